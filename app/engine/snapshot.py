"""A settlement's engine input, as stored with it (``settlements.engine_input``).

`payload(encounter, ctx)` is what the settle path stores: the encounter and every
part of the context except the accumulators (a replay recomputes those) and the
policy (the settlement row names its version). It is made of the engine's own
dataclasses, so the service serialises it with one ``orjson.dumps(...,
default=str)`` — dataclasses and dates natively, ``Decimal`` as its exact text.

`restore(plain)` turns the parsed JSON back into `(Encounter, SnapshotContext)`;
`SnapshotContext.context(policy, accumulators)` gives the `SettlementContext` for a
run. Round trip: ``restore(json(payload(e, c)))`` rebuilds ``e`` and ``c``'s
person, institution, catalog, registrations, filings and referral exactly (same
``Decimal`` digits and exponents). Pure: no JSON library here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.engine.model import (
    Accumulators,
    CatalogItem,
    CrossRegionFiling,
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Policy,
    Referral,
    Restriction,
    SettlementContext,
    SpecialDiseaseRegistration,
)

#: Bumped when the stored form changes; `restore` refuses forms it does not know.
VERSION = 1


def payload(encounter: Encounter, ctx: SettlementContext) -> dict[str, Any]:
    """The stored form, before JSON: the engine's dataclasses as they are."""
    return {
        "v": VERSION,
        "e": encounter,
        "p": ctx.person,
        "i": ctx.institution,
        "c": ctx.catalog,
        "r": ctx.registrations,
        "f": ctx.filings,
        "x": ctx.referral,
        "k": ctx.policy.version if ctx.policy is not None else None,
    }


@dataclass(frozen=True, slots=True)
class SnapshotContext:
    """Everything of a `SettlementContext` but the policy and the accumulators."""

    person: Person
    institution: Institution
    catalog: Mapping[str, CatalogItem | None]
    registrations: tuple[SpecialDiseaseRegistration, ...]
    filings: tuple[CrossRegionFiling, ...]
    referral: Referral | None
    policy_version: str | None

    def context(self, policy: Policy | None, accumulators: Accumulators, **changes: Any) -> SettlementContext:
        """The engine's context for one run; `changes` replace person fields (e.g. the balance)."""
        person = self.person
        if changes:
            person = Person(**{**{f: getattr(person, f) for f in Person.__dataclass_fields__}, **changes})
        return SettlementContext(
            person=person,
            institution=self.institution,
            policy=policy,
            catalog=self.catalog,
            accumulators=accumulators,
            registrations=self.registrations,
            filings=self.filings,
            referral=self.referral,
        )


def _d(value: Any) -> Decimal:
    return Decimal(value)


def _od(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value)


def _odate(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _otuple(value: Any) -> tuple[Any, ...] | None:
    return None if value is None else tuple(value)


def _encounter(e: Mapping[str, Any]) -> Encounter:
    return Encounter(
        med_type=e["med_type"],
        encounter_date=_date(e["encounter_date"]),
        lines=tuple(
            FeeLine(line_no=l["line_no"], code=l["code"], qty=_d(l["qty"]), unit_price=_d(l["unit_price"]), name=l["name"])
            for l in e["lines"]
        ),
        insutype=e["insutype"],
        diagnoses=tuple(e["diagnoses"]),
        special_disease=e["special_disease"],
        use_personal_account=e["use_personal_account"],
        has_referral=e["has_referral"],
    )


def _person(p: Mapping[str, Any]) -> Person:
    return Person(
        person_id=p["person_id"],
        insured_region=p["insured_region"],
        enrollments=tuple(
            Enrollment(x["insutype"], _date(x["valid_from"]), _odate(x["valid_to"]), x.get("tier"))
            for x in p["enrollments"]
        ),
        retired=p["retired"],
        supplementary=p["supplementary"],
        aid_category=p["aid_category"],
        account_balance=_d(p["account_balance"]),
    )


def _item(c: Mapping[str, Any] | None) -> CatalogItem | None:
    if c is None:
        return None
    r = c["restriction"]
    restriction = (
        None
        if r is None
        else Restriction(
            med_types=_otuple(r["med_types"]),
            diagnoses=_otuple(r["diagnoses"]),
            special_diseases=_otuple(r["special_diseases"]),
            min_level=r["min_level"],
        )
    )
    return CatalogItem(
        code=c["code"],
        name=c["name"],
        category=c["category"],
        self_pay_ratio=_d(c["self_pay_ratio"]),
        price_cap=_od(c["price_cap"]),
        restriction=restriction,
        region=c["region"],
    )


def _cached_item(c: Mapping[str, Any] | None, cache: dict[Any, CatalogItem | None]) -> CatalogItem | None:
    """`_item`, reusing an equal item already built (a replay meets the same few thousand
    catalog entries a million times). The key holds every field, so equal keys mean equal items."""
    if c is None:
        return None
    r = c["restriction"]
    key = (
        c["code"], c["region"], c["name"], c["category"], c["self_pay_ratio"], c["price_cap"],
        None if r is None else (
            _otuple(r["med_types"]), _otuple(r["diagnoses"]), _otuple(r["special_diseases"]), r["min_level"]
        ),
    )  # fmt: skip
    item = cache.get(key)
    if item is None:
        item = cache[key] = _item(c)
    return item


def restore(
    plain: Mapping[str, Any], cache: dict[Any, CatalogItem | None] | None = None
) -> tuple[Encounter, SnapshotContext]:
    """The parsed stored form back to the engine's objects. `cache`: a dict the caller keeps
    across calls, to share equal catalog items instead of building each again."""
    if plain.get("v") != VERSION:
        raise ValueError(f"unknown engine input version {plain.get('v')!r}")
    i = plain["i"]
    x = plain["x"]
    referral = (
        None
        if x is None
        else Referral(
            person_id=x["person_id"],
            to_institution=x["to_institution"],
            direction=x["direction"],
            valid_from=_date(x["valid_from"]),
            valid_to=_date(x["valid_to"]),
            origin_deductible=_d(x["origin_deductible"]),
            consumed=x["consumed"],
        )
    )
    ctx = SnapshotContext(
        person=_person(plain["p"]),
        institution=Institution(code=i["code"], kind=i["kind"], level=i["level"], region=i["region"], active=i["active"]),
        catalog={code: _item(c) for code, c in plain["c"].items()}
        if cache is None
        else {code: _cached_item(c, cache) for code, c in plain["c"].items()},
        registrations=tuple(
            SpecialDiseaseRegistration(r["disease_code"], _date(r["valid_from"]), _date(r["valid_to"]), _otuple(r["sites"]))
            for r in plain["r"]
        ),
        filings=tuple(CrossRegionFiling(f["region"], _date(f["valid_from"]), _date(f["valid_to"])) for f in plain["f"]),
        referral=referral,
        policy_version=plain["k"],
    )
    return _encounter(plain["e"]), ctx
