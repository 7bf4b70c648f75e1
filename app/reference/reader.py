"""The reference reader: the reference data a settlement reads — the institution, the
policy in force, the catalog items — as engine values, in one call (`for_settlement`),
from an in-process cache. Settlement and registrations read reference data through
this module and `app.reference.repository`; nothing else queries these tables.

Entries live in `app.kit.cache.GenerationCache`s, valid for one reference
*generation*: every admin write bumps it locally and, through NOTIFY, in every
other process; a changed generation drops the entries. The generation is read
before querying, so a value read under an older generation is never stored; while
the cross-process listener is down nothing is cached, so a stale policy or price
can never be used for longer than a notification takes to arrive.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.engine.model import CatalogItem, Institution, Policy, Restriction
from app.engine.policy_doc import policy_from_document
from app.kit.cache import GenerationCache, ReferenceGeneration
from app.reference.policies import in_force, policy_versions

NATIONAL = "000000"
MAX_CATALOG_ENTRIES = 500_000
#: Stored for "looked up and not there", so misses are cached too.
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy: Policy
    revision: int
    in_use: bool

    @property
    def effective_from(self) -> dt.date:
        return self.policy.effective_from


@dataclass(frozen=True, slots=True)
class SettlementReference:
    """Everything of reference data one settlement needs."""

    institution: Institution
    #: None: no policy in force for the person's region and insutype on the date (or no
    #: insutype could be resolved; the engine refuses either way).
    policy: PolicyVersion | None
    catalog: dict[str, CatalogItem | None]


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


class ReferenceReader:
    def __init__(self, generation: ReferenceGeneration) -> None:
        self._generation = generation
        self._institutions = GenerationCache(generation)
        self._policies = GenerationCache(generation)
        self._catalog = GenerationCache(generation, max_entries=MAX_CATALOG_ENTRIES)
        #: (treatment region, code) → the item its catalog chain gives (or _ABSENT): one
        #: lookup per line instead of one per catalog of the chain.
        self._resolved = GenerationCache(generation, max_entries=MAX_CATALOG_ENTRIES)

    def clear(self) -> None:
        for cache in (self._institutions, self._policies, self._catalog, self._resolved):
            cache.clear()

    async def for_settlement(
        self,
        conn: asyncpg.Connection,
        institution_code: str,
        *,
        insured_region: str,
        insutype: str | None,
        day: dt.date,
        codes: set[str],
    ) -> SettlementReference | None:
        """The institution, the policy of ``insured_region``/``insutype`` in force on ``day``
        and each code's catalog item in the institution's catalog chain; None when the
        institution does not exist. Served from the cache when warm: no round trip."""
        institution = await self.institution(conn, institution_code)
        if institution is None:
            return None
        policy = None if insutype is None else await self.policy_in_force(conn, insured_region, insutype, day)
        catalog = await self.catalog_items(conn, institution.region, codes)
        return SettlementReference(institution, policy, catalog)

    # ------------------------------------------------------------------ institutions

    async def institution(self, conn: asyncpg.Connection, code: str) -> Institution | None:
        at = self._generation.cache_key  # before querying (see app.kit.cache)
        cached = self._institutions.get(code, at)
        if cached is not None:
            return None if cached is _ABSENT else cached
        row = await conn.fetchrow(
            "SELECT code, kind, level, region, active FROM institutions WHERE code = $1", code
        )
        value = (
            Institution(code=row["code"], kind=row["kind"], level=row["level"], region=row["region"], active=row["active"])
            if row
            else None
        )
        self._institutions.put(code, _ABSENT if value is None else value, at)
        return value

    # ------------------------------------------------------------------ policies

    async def policy_in_force(
        self, conn: asyncpg.Connection, region: str, insutype: str, day: dt.date
    ) -> PolicyVersion | None:
        """The version with the latest effective_from on or before `day` (§2)."""
        at = self._generation.cache_key
        key = (region, insutype)
        versions = self._policies.get(key, at)
        if versions is None:
            versions = tuple(
                PolicyVersion(policy=policy_from_document(r.document), revision=r.revision, in_use=r.in_use)
                for r in await policy_versions(conn, region, insutype)
            )
            self._policies.put(key, versions, at)
        return in_force(versions, day)

    def mark_in_use(self, version: PolicyVersion) -> None:
        """After a commit that used it: later settlements skip the in_use update."""
        at = self._generation.cache_key
        key = (version.policy.region, version.policy.insutype)
        versions = self._policies.get(key, at)
        if versions is None:
            return
        self._policies.put(
            key,
            tuple(
                PolicyVersion(v.policy, v.revision, True)
                if v.policy.effective_from == version.policy.effective_from and v.revision == version.revision
                else v
                for v in versions
            ),
            at,
        )

    # ------------------------------------------------------------------ catalog

    async def catalog_items(
        self, conn: asyncpg.Connection, region: str, codes: set[str]
    ) -> dict[str, CatalogItem | None]:
        """Each code's item in the treatment place's catalog chain (None: not in catalog)."""
        at = self._generation.cache_key
        result: dict[str, CatalogItem | None] = {}
        unresolved: set[str] = set()
        for code in codes:
            item = self._resolved.get((region, code), at)
            if item is None:
                unresolved.add(code)
            else:
                result[code] = None if item is _ABSENT else item
        if not unresolved:
            return result
        result.update(await self._resolve(conn, region, unresolved, at))
        return result

    async def _resolve(
        self, conn: asyncpg.Connection, region: str, codes: set[str], at: int | None
    ) -> dict[str, CatalogItem | None]:
        chain = catalog_chain(region)
        found: dict[tuple[str, str], Any] = {}
        missing: list[str] = []
        for code in codes:
            entries = [self._catalog.get((r, code), at) for r in chain]
            if any(e is None for e in entries):
                missing.append(code)
            else:
                found.update(zip(((r, code) for r in chain), entries))
        if missing:
            rows = await conn.fetch(
                "SELECT region, code, name, category, self_pay_ratio, price_cap, restriction::text AS restriction "
                "FROM catalog_items WHERE code = ANY($1::text[]) AND region = ANY($2::text[])",
                missing,
                list(chain),
            )
            loaded: dict[tuple[str, str], Any] = {(r, c): _ABSENT for r in chain for c in missing}
            for row in rows:
                loaded[(row["region"], row["code"])] = CatalogItem(
                    code=row["code"],
                    name=row["name"],
                    category=row["category"],
                    self_pay_ratio=row["self_pay_ratio"],
                    price_cap=row["price_cap"],
                    restriction=restriction_from_json(json.loads(row["restriction"]) if row["restriction"] else None),
                    region=row["region"],
                )
            for key, value in loaded.items():
                self._catalog.put(key, value, at)
            found.update(loaded)
        result: dict[str, CatalogItem | None] = {}
        for code in codes:
            # the first catalog of the chain that has the code: region, province, national
            item = next((found[(r, code)] for r in chain if found[(r, code)] is not _ABSENT), None)
            result[code] = item
            self._resolved.put((region, code), _ABSENT if item is None else item, at)
        return result
