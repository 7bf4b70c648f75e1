"""Every query of e-voucher issuance (settlement-time lookups are in `service.resolve_e_voucher`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.evouchers.tables import e_vouchers
from app.persons.tables import enrollments, persons


async def insured_on(session: AsyncSession, person_id: str, day: dt.date) -> bool | None:
    """None when the person does not exist; else whether an enrollment is active on `day`."""
    active = exists().where(
        enrollments.c.person_id == persons.c.person_id,
        enrollments.c.valid_from <= day,
        or_(enrollments.c.valid_to.is_(None), enrollments.c.valid_to >= day),
    )
    row = (await session.execute(select(active.label("insured")).where(persons.c.person_id == person_id))).first()
    return None if row is None else bool(row.insured)


async def insert_voucher(
    session: AsyncSession, code_hash: bytes, person_id: str, issued_at: dt.datetime, expires_at: dt.datetime
) -> None:
    await session.execute(
        insert(e_vouchers).values(
            code_hash=code_hash, person_id=person_id, issued_at=issued_at, expires_at=expires_at
        )
    )
