"""Queries for reference data. Repositories only execute and flush; they never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.tables import UPSERT_CREATED as _CREATED
from app.reference.tables import catalog_items, institutions, policies, regions


async def upsert_region(session: AsyncSession, code: str, name: str) -> Row[Any]:
    stmt = insert(regions).values(code=code, name=name)
    stmt = stmt.on_conflict_do_update(
        index_elements=[regions.c.code], set_={"name": stmt.excluded.name, "updated_at": func.now()}
    ).returning(*regions.c, _CREATED)
    return (await session.execute(stmt)).one()


async def get_region(session: AsyncSession, code: str) -> Row[Any] | None:
    return (await session.execute(select(regions).where(regions.c.code == code))).first()


async def upsert_institution(session: AsyncSession, code: str, values: dict[str, Any]) -> Row[Any]:
    stmt = insert(institutions).values(code=code, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[institutions.c.code],
        set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
    ).returning(*institutions.c, _CREATED)
    return (await session.execute(stmt)).one()


async def get_institution(session: AsyncSession, code: str) -> Row[Any] | None:
    return (await session.execute(select(institutions).where(institutions.c.code == code))).first()


async def upsert_catalog_items(session: AsyncSession, region: str, items: Sequence[dict[str, Any]]) -> list[Row[Any]]:
    """Insert or replace items in one statement (all or nothing with the transaction)."""
    rows: list[Row[Any]] = []
    for start in range(0, len(items), 1000):  # keep each statement well under the bind-parameter limit
        chunk = [{"region": region, **item} for item in items[start : start + 1000]]
        stmt = insert(catalog_items).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=[catalog_items.c.region, catalog_items.c.code],
            set_={
                "name": stmt.excluded.name,
                "category": stmt.excluded.category,
                "self_pay_ratio": stmt.excluded.self_pay_ratio,
                "price_cap": stmt.excluded.price_cap,
                "restriction": stmt.excluded.restriction,
                "updated_at": func.now(),
            },
        ).returning(*catalog_items.c, _CREATED)
        rows.extend((await session.execute(stmt)).all())
    return rows


async def get_catalog_item(session: AsyncSession, region: str, code: str) -> Row[Any] | None:
    stmt = select(catalog_items).where(catalog_items.c.region == region, catalog_items.c.code == code)
    return (await session.execute(stmt)).first()


async def put_policy(
    session: AsyncSession, region: str, insutype: str, effective_from: dt.date, document: dict[str, Any]
) -> Row[Any] | None:
    """Create the version, or replace it (revision + 1) unless it is in use. None: in use.

    One statement: a settlement marking the version in use holds its row lock, and
    the conflict branch re-checks ``in_use`` on the row it finally locks.
    """
    stmt = insert(policies).values(region=region, insutype=insutype, effective_from=effective_from, document=document)
    stmt = stmt.on_conflict_do_update(
        index_elements=[policies.c.region, policies.c.insutype, policies.c.effective_from],
        set_={"document": stmt.excluded.document, "revision": policies.c.revision + 1, "updated_at": func.now()},
        where=policies.c.in_use.is_(False),
    ).returning(*policies.c, _CREATED)
    return (await session.execute(stmt)).first()


async def institution_summary(session: AsyncSession, code: str) -> Row[Any] | None:
    stmt = select(
        institutions.c.code, institutions.c.kind, institutions.c.level, institutions.c.region, institutions.c.active
    ).where(institutions.c.code == code)
    return (await session.execute(stmt)).first()


async def institutions_by_code(session: AsyncSession, codes: Sequence[str]) -> dict[str, Row[Any]]:
    stmt = select(institutions.c.code, institutions.c.kind, institutions.c.level, institutions.c.active).where(
        institutions.c.code.in_(list(codes))
    )
    return {row.code: row for row in (await session.execute(stmt)).all()}


async def institution_active(conn: Any, code: str) -> bool | None:
    """Whether the institution is active (None: no such institution), on a session or a
    connection (the key store's own short one)."""
    return (await conn.execute(select(institutions.c.active).where(institutions.c.code == code))).scalar()
