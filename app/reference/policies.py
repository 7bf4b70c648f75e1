"""Policy versions 待遇政策版本, and the one definition of "the policy in force on a date".

settlement.md §2: the version of the insured region and insutype with the latest
``effective_from`` on or before the encounter date. `in_force` is that rule; the
settlement path (`app.reference.reader`), the policy API (`GET /v1/policies/…?date=`)
and registrations (the special-disease site rules) all choose through it, over the
versions `policy_versions` loads.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, Sequence, TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class _Dated(Protocol):
    @property
    def effective_from(self) -> dt.date: ...


V = TypeVar("V", bound=_Dated)


def in_force(versions: Sequence[V], day: dt.date) -> V | None:
    """The version in force on ``day``: the latest ``effective_from`` on or before it."""
    best: V | None = None
    for version in versions:
        if version.effective_from <= day and (best is None or version.effective_from > best.effective_from):
            best = version
    return best


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    region: str
    insutype: str
    effective_from: dt.date
    #: The document as stored, decimals exact (``parse_float=Decimal``).
    document: dict[str, Any]
    revision: int
    in_use: bool
    updated_at: dt.datetime | None


_VERSIONS_SQL = (
    "SELECT region, insutype, effective_from, document::text AS document, revision, in_use, updated_at "
    "FROM policies WHERE region = {region} AND insutype = {insutype} ORDER BY effective_from DESC"
)


def _stored(row: Any) -> StoredPolicy:
    return StoredPolicy(
        region=row["region"],
        insutype=row["insutype"],
        effective_from=row["effective_from"],
        document=json.loads(row["document"], parse_float=Decimal),
        revision=row["revision"],
        in_use=row["in_use"],
        updated_at=row["updated_at"],
    )


async def policy_versions(conn: asyncpg.Connection | AsyncSession, region: str, insutype: str) -> list[StoredPolicy]:
    """Every version of a region's insutype, newest first, on either kind of connection
    (the settlement path's asyncpg connection, or a request's session)."""
    if isinstance(conn, AsyncSession):
        result = await conn.execute(
            text(_VERSIONS_SQL.format(region=":region", insutype=":insutype")), {"region": region, "insutype": insutype}
        )
        return [_stored(row._mapping) for row in result]
    rows = await conn.fetch(_VERSIONS_SQL.format(region="$1", insutype="$2"), region, insutype)
    return [_stored(row) for row in rows]


async def policy_in_force(
    conn: asyncpg.Connection | AsyncSession, region: str, insutype: str, day: dt.date
) -> StoredPolicy | None:
    return in_force(await policy_versions(conn, region, insutype), day)
