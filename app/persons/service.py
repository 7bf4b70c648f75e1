from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit import audit
from app.kit.auth import Principal
from app.kit.clock import today
from app.persons import certno as certnos
from app.persons import repository as repo
from app.persons.exceptions import InvalidCertno, PersonNotFound, UnknownRegion
from app.persons.schemas import ACCUMULATOR_SCALARS, AccumulatorsOut, PersonIn, PersonRecord, PersonView
from app.reference.repository import get_region

ZERO = Decimal("0")


async def put_person(session: AsyncSession, actor: Principal, person_id: str, body: PersonIn) -> tuple[PersonRecord, bool]:
    if not certnos.is_valid(body.certno):
        raise InvalidCertno(
            "certno must be 18 characters (17 digits and a check digit 0-9 or X) with a valid "
            "ISO 7064 MOD 11-2 check digit.",
            errors=[{"loc": ["body", "certno"], "msg": "invalid ID number"}],
        )
    if await get_region(session, body.insured_region) is None:
        raise UnknownRegion(
            "The insured region does not exist.", errors=[{"loc": ["body", "insured_region"], "msg": "unknown region"}]
        )
    values = body.model_dump(exclude={"enrollments"})
    row = await repo.upsert_person(session, person_id, values)
    await repo.replace_enrollments(session, person_id, [e.model_dump() for e in body.enrollments])
    await audit.record(
        session, actor.key_id, "person.put", f"person:{person_id}",
        {"created": row.created, "enrollments": len(body.enrollments)},
    )  # fmt: skip
    enrollments = await repo.list_enrollments(session, person_id)
    record = PersonRecord(**{**row._mapping, "enrollments": [e._mapping for e in enrollments]})
    return record, row.created


async def view_person(session: AsyncSession, viewer: Principal, person_id: str, on: dt.date) -> PersonView:
    person = await repo.get_person(session, person_id)
    if person is None:
        raise PersonNotFound(f"No person {person_id}.")
    institution = viewer.role == "institution"
    p = person._mapping
    return PersonView(
        person_id=p["person_id"],
        as_of=on,
        certno=certnos.mask(p["certno"]) if institution else p["certno"],
        name=p["name"],
        gender=p["gender"],
        birth_date=p["birth_date"],
        insured_region=p["insured_region"],
        retired=p["retired"],
        supplementary=p["supplementary"],
        aid_category=p["aid_category"],
        account_balance=None if institution else p["account_balance"],
        enrollments=[e._mapping for e in await repo.list_enrollments(session, person_id, on)],
        registrations=[r._mapping for r in await repo.active_registrations(session, person_id, on)],
        filings=[f._mapping for f in await repo.active_filings(session, person_id, on)],
    )


async def accumulators(session: AsyncSession, person_id: str, year: int) -> AccumulatorsOut:
    person = await repo.get_person(session, person_id)
    if person is None:
        raise PersonNotFound(f"No person {person_id}.")
    scalars: dict[str, Decimal] = dict.fromkeys(ACCUMULATOR_SCALARS, ZERO)
    maps: dict[str, dict[str, Decimal]] = {"deductible": {}, "limit": {}, "disease": {}}
    for name, amount in await repo.year_accumulators(session, person_id, year):
        prefix, _, key = name.partition(":")
        if key and prefix in maps:
            maps[prefix][key] = amount
        elif name in scalars:
            scalars[name] = amount
    # The tier in force on the year's last day, or today for the current year; with
    # enrollments of both insutypes, the first (by insutype) that has a tier.
    as_of = min(dt.date(year, 12, 31), today())
    tiers = [e.tier for e in await repo.list_enrollments(session, person_id, as_of) if e.tier is not None]
    data: dict[str, Any] = {"person_id": person_id, "year": year, "tier": tiers[0] if tiers else None, **scalars, **maps}
    return AccumulatorsOut(**data, account_balance=person.account_balance)
