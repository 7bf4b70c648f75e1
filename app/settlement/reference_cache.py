"""In-process cache of the reference data a settlement reads: institutions,
policies and catalog items, as engine values.

Entries are valid for one reference *generation* (`app.kit.cache`): every admin
write bumps it locally and, through NOTIFY, in every other process; a changed
generation empties the cache before the next lookup. While the cross-process
listener is down the cache is bypassed (`reliable` False), so a stale policy or
price can never be used for longer than a notification takes to arrive.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import asyncpg

from app.engine.model import CatalogItem, Institution, Policy, Restriction
from app.engine.policy_doc import policy_from_document

NATIONAL = "000000"
MAX_CATALOG_ENTRIES = 500_000


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy: Policy
    revision: int
    in_use: bool


def catalog_chain(region: str) -> tuple[str, ...]:
    """就医地目录: the institution's region, then its province, then national."""
    province = region[:2] + "0000"
    chain = [region]
    if province != region:
        chain.append(province)
    if NATIONAL not in chain:
        chain.append(NATIONAL)
    return tuple(chain)


def restriction_from_json(doc: dict[str, Any] | None) -> Restriction | None:
    if not doc:
        return None

    def opt(name: str) -> tuple[str, ...] | None:
        values = doc.get(name)
        return tuple(values) if values is not None else None

    return Restriction(
        med_types=opt("med_types"),
        diagnoses=opt("diagnoses"),
        special_diseases=opt("special_diseases"),
        min_level=doc.get("min_level"),
    )


class ReferenceCache:
    def __init__(self, generation: Callable[[], int], reliable: Callable[[], bool]) -> None:
        self._generation = generation
        self._reliable = reliable
        self._seen = -1
        self._institutions: dict[str, Institution | None] = {}
        self._policies: dict[tuple[str, str], tuple[PolicyVersion, ...]] = {}
        self._catalog: dict[tuple[str, str], CatalogItem | None] = {}

    def _fresh(self) -> None:
        current = self._generation()
        if current != self._seen or not self._reliable():
            self._institutions.clear()
            self._policies.clear()
            self._catalog.clear()
            self._seen = current

    def clear(self) -> None:
        self._seen = -1

    # ------------------------------------------------------------------ institutions

    async def institution(self, conn: asyncpg.Connection, code: str) -> Institution | None:
        self._fresh()
        if code in self._institutions:
            return self._institutions[code]
        row = await conn.fetchrow(
            "SELECT code, kind, level, region, active FROM institutions WHERE code = $1", code
        )
        value = (
            Institution(code=row["code"], kind=row["kind"], level=row["level"], region=row["region"], active=row["active"])
            if row
            else None
        )
        self._institutions[code] = value
        return value

    # ------------------------------------------------------------------ policies

    async def policy_in_force(
        self, conn: asyncpg.Connection, region: str, insutype: str, day: dt.date
    ) -> PolicyVersion | None:
        """The version with the latest effective_from on or before `day` (§2)."""
        self._fresh()
        key = (region, insutype)
        versions = self._policies.get(key)
        if versions is None:
            rows = await conn.fetch(
                "SELECT document::text AS document, revision, in_use FROM policies "
                "WHERE region = $1 AND insutype = $2 ORDER BY effective_from DESC",
                region,
                insutype,
            )
            versions = tuple(
                PolicyVersion(
                    policy=policy_from_document(json.loads(r["document"], parse_float=Decimal)),
                    revision=r["revision"],
                    in_use=r["in_use"],
                )
                for r in rows
            )
            self._policies[key] = versions
        for version in versions:  # newest first
            if version.policy.effective_from <= day:
                return version
        return None

    def mark_in_use(self, version: PolicyVersion) -> None:
        """After a commit that used it: later settlements skip the in_use update."""
        key = (version.policy.region, version.policy.insutype)
        versions = self._policies.get(key)
        if versions is None:
            return
        self._policies[key] = tuple(
            PolicyVersion(v.policy, v.revision, True)
            if v.policy.effective_from == version.policy.effective_from and v.revision == version.revision
            else v
            for v in versions
        )

    # ------------------------------------------------------------------ catalog

    async def catalog_items(
        self, conn: asyncpg.Connection, region: str, codes: set[str]
    ) -> dict[str, CatalogItem | None]:
        """Each code's item in the treatment place's catalog chain (None: not in catalog)."""
        self._fresh()
        chain = catalog_chain(region)
        missing = [c for c in codes if any((r, c) not in self._catalog for r in chain)]
        if missing:
            if len(self._catalog) > MAX_CATALOG_ENTRIES:
                self._catalog.clear()
            rows = await conn.fetch(
                "SELECT region, code, name, category, self_pay_ratio, price_cap, restriction::text AS restriction "
                "FROM catalog_items WHERE code = ANY($1::text[]) AND region = ANY($2::text[])",
                missing,
                list(chain),
            )
            for r in chain:
                for c in missing:
                    self._catalog.setdefault((r, c), None)
            for row in rows:
                self._catalog[(row["region"], row["code"])] = CatalogItem(
                    code=row["code"],
                    name=row["name"],
                    category=row["category"],
                    self_pay_ratio=row["self_pay_ratio"],
                    price_cap=row["price_cap"],
                    restriction=restriction_from_json(json.loads(row["restriction"]) if row["restriction"] else None),
                    region=row["region"],
                )
        result: dict[str, CatalogItem | None] = {}
        for code in codes:
            found = None
            for r in chain:
                found = self._catalog.get((r, code))
                if found is not None:
                    break
            result[code] = found
        return result
