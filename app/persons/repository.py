from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.tables import UPSERT_CREATED as _CREATED
from app.kit.tables import accumulators, cross_region_filings, enrollments, persons, special_disease_registrations


async def upsert_person(session: AsyncSession, person_id: str, values: dict[str, Any]) -> Row[Any]:
    stmt = pg_insert(persons).values(person_id=person_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[persons.c.person_id], set_={
            **{k: stmt.excluded[k] for k in values},
            "updated_at": func.now(),
            # A changed balance or attribute makes an optimistic settlement read stale.
            "state_version": persons.c.state_version + 1,
        }
    ).returning(*persons.c, _CREATED)
    return (await session.execute(stmt)).one()


async def replace_enrollments(session: AsyncSession, person_id: str, rows: list[dict[str, Any]]) -> None:
    await session.execute(delete(enrollments).where(enrollments.c.person_id == person_id))
    if rows:
        await session.execute(insert(enrollments), [{"person_id": person_id, **r} for r in rows])


async def get_person(session: AsyncSession, person_id: str) -> Row[Any] | None:
    return (await session.execute(select(persons).where(persons.c.person_id == person_id))).first()


async def get_person_by_certno(session: AsyncSession, certno: str) -> Row[Any] | None:
    """The person with this ID number (index persons_certno); the first by id should two share it."""
    stmt = select(persons).where(persons.c.certno == certno).order_by(persons.c.person_id).limit(1)
    return (await session.execute(stmt)).first()


async def list_enrollments(session: AsyncSession, person_id: str, on: dt.date | None = None) -> list[Row[Any]]:
    stmt = select(enrollments).where(enrollments.c.person_id == person_id)
    if on is not None:
        stmt = stmt.where(
            enrollments.c.valid_from <= on, or_(enrollments.c.valid_to.is_(None), enrollments.c.valid_to >= on)
        )
    return list((await session.execute(stmt.order_by(enrollments.c.insutype, enrollments.c.valid_from))).all())


async def active_registrations(session: AsyncSession, person_id: str, on: dt.date) -> list[Row[Any]]:
    t = special_disease_registrations
    stmt = (
        select(t)
        .where(
            t.c.person_id == person_id,
            t.c.valid_from <= on,
            t.c.valid_to >= on,
            # Date range only, as at settlement: a version ended by a site change
            # still governs the days before the change.
        )
        .order_by(t.c.disease_code, t.c.valid_from)
    )
    return list((await session.execute(stmt)).all())


async def active_filings(session: AsyncSession, person_id: str, on: dt.date) -> list[Row[Any]]:
    t = cross_region_filings
    stmt = (
        select(t)
        .where(t.c.person_id == person_id, t.c.valid_from <= on, or_(t.c.valid_to.is_(None), t.c.valid_to >= on))
        .order_by(t.c.region, t.c.valid_from)
    )
    return list((await session.execute(stmt)).all())


async def year_accumulators(session: AsyncSession, person_id: str, year: int) -> list[Row[Any]]:
    stmt = select(accumulators.c.name, accumulators.c.amount).where(
        and_(accumulators.c.person_id == person_id, accumulators.c.year == year)
    )
    return list((await session.execute(stmt)).all())
