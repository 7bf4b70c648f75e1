from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, and_, delete, exists, func, insert, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.tables import UPSERT_CREATED as _CREATED
from app.persons.state import next_state_version
from app.persons.tables import accumulators, enrollments, persons


async def upsert_person(session: AsyncSession, person_id: str, values: dict[str, Any]) -> Row[Any]:
    stmt = pg_insert(persons).values(person_id=person_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[persons.c.person_id], set_={
            **{k: stmt.excluded[k] for k in values},
            "updated_at": func.now(),
            # A changed balance or attribute makes an optimistic settlement read stale.
            "state_version": literal_column(next_state_version(f"{persons.name}.state_version")),
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


async def year_accumulators(session: AsyncSession, person_id: str, year: int) -> list[Row[Any]]:
    stmt = select(accumulators.c.name, accumulators.c.amount).where(
        and_(accumulators.c.person_id == person_id, accumulators.c.year == year)
    )
    return list((await session.execute(stmt)).all())


async def lock_person(session: AsyncSession, person_id: str) -> Row[Any] | None:
    """The person's row, held FOR UPDATE until the transaction ends.

    Registration writes of one person queue here (as settlements do), so two
    concurrent registrations cannot both pass the overlap check.
    """
    stmt = (
        select(persons.c.person_id, persons.c.insured_region, persons.c.supplementary, persons.c.aid_category)
        .where(persons.c.person_id == person_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).first()


async def person_exists(session: AsyncSession, person_id: str) -> bool:
    stmt = select(persons.c.person_id).where(persons.c.person_id == person_id)
    return (await session.execute(stmt)).first() is not None


async def active_insutypes(session: AsyncSession, person_id: str, day: dt.date) -> list[str]:
    stmt = (
        select(enrollments.c.insutype)
        .where(
            enrollments.c.person_id == person_id,
            enrollments.c.valid_from <= day,
            or_(enrollments.c.valid_to.is_(None), enrollments.c.valid_to >= day),
        )
        .distinct()
        .order_by(enrollments.c.insutype)
    )
    return list((await session.execute(stmt)).scalars().all())


async def insured_on(session: AsyncSession, person_id: str, day: dt.date) -> bool | None:
    """None when the person does not exist; else whether an enrollment is active on `day`."""
    active = exists().where(
        enrollments.c.person_id == persons.c.person_id,
        enrollments.c.valid_from <= day,
        or_(enrollments.c.valid_to.is_(None), enrollments.c.valid_to >= day),
    )
    row = (await session.execute(select(active.label("insured")).where(persons.c.person_id == person_id))).first()
    return None if row is None else bool(row.insured)
