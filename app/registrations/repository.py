"""Every query of registrations, filings and referrals (SQLAlchemy Core on the request's session).

Nothing here commits: the request's transaction does, once (app.kit.db).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Row, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.registrations.tables import cross_region_filings, referrals, special_disease_registrations

Cursor = tuple[dt.datetime, uuid.UUID]


# ---------------------------------------------------------------- persons, institutions, policies


# ---------------------------------------------------------------- special-disease registrations

_R = special_disease_registrations


async def registration_overlaps(
    session: AsyncSession,
    person_id: str,
    disease_code: str,
    valid_from: dt.date,
    valid_to: dt.date,
    *,
    exclude: uuid.UUID | None = None,
) -> bool:
    """A registration of this disease applies on at least one day of the range.

    Superseded versions count too: the settlement reads date ranges only, so an
    ended version still applies before its successor's ``effective_from``.
    """
    clauses = [
        _R.c.person_id == person_id,
        _R.c.disease_code == disease_code,
        _R.c.valid_from <= _R.c.valid_to,  # a version replaced from its first day applies on no day
        _R.c.valid_from <= valid_to,
        _R.c.valid_to >= valid_from,
    ]
    if exclude is not None:
        clauses.append(_R.c.registration_id != exclude)
    stmt = select(_R.c.registration_id).where(*clauses).limit(1)
    return (await session.execute(stmt)).first() is not None


async def insert_registration(
    session: AsyncSession,
    *,
    registration_id: uuid.UUID,
    person_id: str,
    disease_code: str,
    certifier_code: str | None,
    valid_from: dt.date,
    valid_to: dt.date,
    all_sites: bool,
    sites: list[str],
) -> Row[Any]:
    stmt = (
        _R.insert()
        .values(
            registration_id=registration_id,
            person_id=person_id,
            disease_code=disease_code,
            certifier_code=certifier_code,
            valid_from=valid_from,
            valid_to=valid_to,
            all_sites=all_sites,
            sites=sites,
        )
        .returning(*_R.c)
    )
    return (await session.execute(stmt)).one()


async def registration_for_update(
    session: AsyncSession, person_id: str, registration_id: uuid.UUID
) -> Row[Any] | None:
    stmt = (
        select(_R)
        .where(_R.c.registration_id == registration_id, _R.c.person_id == person_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).first()


async def end_registration(
    session: AsyncSession, registration_id: uuid.UUID, *, valid_to: dt.date, superseded_by: uuid.UUID
) -> Row[Any]:
    """Close a version: it stays valid up to ``valid_to`` (earlier encounter dates keep its sites)."""
    stmt = (
        _R.update()
        .where(_R.c.registration_id == registration_id)
        .values(valid_to=valid_to, superseded_by=superseded_by, ended_at=func.now())
        .returning(*_R.c)
    )
    return (await session.execute(stmt)).one()


async def list_registrations(
    session: AsyncSession, person_id: str, *, on: dt.date | None, after: Cursor | None, limit: int
) -> list[Row[Any]]:
    clauses = [_R.c.person_id == person_id]
    if on is not None:
        clauses += [_R.c.valid_from <= on, _R.c.valid_to >= on]
    if after is not None:
        clauses.append(tuple_(_R.c.created_at, _R.c.registration_id) > tuple_(*after))
    stmt = select(_R).where(*clauses).order_by(_R.c.created_at, _R.c.registration_id).limit(limit)
    return list((await session.execute(stmt)).all())


# ---------------------------------------------------------------- cross-region filings

_F = cross_region_filings


async def insert_filing(
    session: AsyncSession,
    *,
    filing_id: uuid.UUID,
    person_id: str,
    region: str,
    valid_from: dt.date,
    valid_to: dt.date,
    kind: str,
) -> Row[Any]:
    stmt = (
        _F.insert()
        .values(
            filing_id=filing_id,
            person_id=person_id,
            region=region,
            valid_from=valid_from,
            valid_to=valid_to,
            kind=kind,
        )
        .returning(*_F.c)
    )
    return (await session.execute(stmt)).one()


async def list_filings(
    session: AsyncSession, person_id: str, *, on: dt.date | None, after: Cursor | None, limit: int
) -> list[Row[Any]]:
    clauses = [_F.c.person_id == person_id]
    if on is not None:
        clauses += [_F.c.valid_from <= on, _F.c.valid_to >= on]
    if after is not None:
        clauses.append(tuple_(_F.c.created_at, _F.c.filing_id) > tuple_(*after))
    stmt = select(_F).where(*clauses).order_by(_F.c.created_at, _F.c.filing_id).limit(limit)
    return list((await session.execute(stmt)).all())


# ---------------------------------------------------------------- referrals

_X = referrals


async def insert_referral(
    session: AsyncSession,
    *,
    referral_id: uuid.UUID,
    person_id: str,
    from_institution: str,
    to_institution: str,
    origin_settlement_id: uuid.UUID | None,
    direction: str,
    valid_from: dt.date,
    valid_to: dt.date,
) -> Row[Any]:
    stmt = (
        _X.insert()
        .values(
            referral_id=referral_id,
            person_id=person_id,
            from_institution=from_institution,
            to_institution=to_institution,
            origin_settlement_id=origin_settlement_id,
            direction=direction,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        .returning(*_X.c)
    )
    return (await session.execute(stmt)).one()


async def get_referral(session: AsyncSession, referral_id: uuid.UUID) -> Row[Any] | None:
    stmt = select(_X).where(_X.c.referral_id == referral_id)
    return (await session.execute(stmt)).first()


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
