from __future__ import annotations

import datetime as dt
import hmac
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.evouchers.service import resolve_e_voucher

from app.kit import audit
from app.kit.auth import Principal
from app.kit.clock import today
from app.persons import certno as certnos
from app.persons import repository as repo
from app.persons.exceptions import CredentialRequired, InvalidCertno, PersonNotFound, UnknownRegion
from app.persons.schemas import ACCUMULATOR_SCALARS, AccumulatorsOut, PersonIn, PersonLookupIn, PersonRecord, PersonView
from app.registrations import repository as registrations_repo
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


def _same_certno(stored: str, presented: str) -> bool:
    # CHAR(18) pads; the check digit may be typed as x.
    return hmac.compare_digest(stored.strip().upper().encode(), presented.strip().upper().encode())


async def read_person(
    session: AsyncSession, viewer: Principal, person_id: str, certno: str | None, what: str
) -> Row[Any]:
    """The person ``viewer`` may read (api.md, "Persons and registrations"): ops and admin
    any; an institution only with the credential the patient presents — ``certno`` matching
    the person — else `403 credential_required` (also when there is no such person, so ids
    cannot be probed). Every read by an institution is audit-logged (`audit_person_read`)."""
    person = await repo.get_person(session, person_id)
    if viewer.role == "institution":
        if person is None or certno is None or not _same_certno(person.certno, certno):
            raise CredentialRequired()
        await audit_person_read(session, viewer, person_id, what, "certno")
    elif person is None:
        raise PersonNotFound(f"No person {person_id}.")
    return person


async def audit_person_read(session: AsyncSession, viewer: Principal, person_id: str, what: str, via: str) -> None:
    """One audit row per person read by an institution: key (actor), institution, person, time
    (the row's ``at``), what was read and with which credential — never the credential."""
    await audit.record(
        session, viewer.key_id, "person.read", f"person:{person_id}",
        {"institution_code": viewer.institution_code, "read": what, "via": via},
    )  # fmt: skip


async def lookup_person(
    session: AsyncSession, viewer: Principal, body: PersonLookupIn, on: dt.date, now: dt.datetime
) -> PersonView:
    """人员信息获取 by the credential the patient presents: a certno or an e-voucher code
    (looked up, not consumed; failures count against the e-voucher limiter like a
    settlement's). The answer includes the account balance."""
    if body.certno is not None:
        person = await repo.get_person_by_certno(session, body.certno.strip().upper())
        if person is None:
            raise PersonNotFound("No person with this certno.")
        via = "certno"
    else:
        assert body.e_voucher_code is not None
        conn = (await (await session.connection()).get_raw_connection()).driver_connection
        limiter_key = viewer.institution_code or f"key:{viewer.key_id}"
        person_id, _ = await resolve_e_voucher(conn, body.e_voucher_code, institution_code=limiter_key, now=now, for_update=False)
        person = await repo.get_person(session, person_id)
        if person is None:  # pragma: no cover - a voucher's person is a foreign key
            raise PersonNotFound("No person for this e-voucher code.")
        via = "e_voucher"
    if viewer.role == "institution":
        await audit_person_read(session, viewer, person.person_id, "lookup", via)
    return await _view(session, viewer, person, on, show_balance=True)


async def view_person(session: AsyncSession, viewer: Principal, person_id: str, on: dt.date, certno: str | None = None) -> PersonView:
    person = await read_person(session, viewer, person_id, certno, "person")
    return await _view(session, viewer, person, on, show_balance=viewer.role != "institution")


async def _view(session: AsyncSession, viewer: Principal, person: Row[Any], on: dt.date, *, show_balance: bool) -> PersonView:
    institution = viewer.role == "institution"
    person_id = person.person_id
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
        account_balance=p["account_balance"] if show_balance else None,
        enrollments=[e._mapping for e in await repo.list_enrollments(session, person_id, on)],
        registrations=[r._mapping for r in await registrations_repo.active_registrations(session, person_id, on)],
        filings=[f._mapping for f in await registrations_repo.active_filings(session, person_id, on)],
    )


async def accumulators(
    session: AsyncSession, viewer: Principal, person_id: str, year: int, certno: str | None = None
) -> AccumulatorsOut:
    person = await read_person(session, viewer, person_id, certno, "accumulators")
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
