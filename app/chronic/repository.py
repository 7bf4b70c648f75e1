"""Every query of chronic-disease applications and screening (SQLAlchemy Core on the request's
session). Nothing here commits: the request's transaction does, once (app.kit.db)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import Row, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.chronic.tables import chronic_applications as _A

Cursor = tuple[dt.datetime, uuid.UUID]

LEDGER_COLUMNS = (
    _A.c.application_id, _A.c.person_id, _A.c.disease_code, _A.c.month, _A.c.status, _A.c.reason,
    _A.c.registration_id, _A.c.applied_by, _A.c.decided_at, _A.c.source, _A.c.created_at,
)  # fmt: skip


async def insert_application(session: AsyncSession, **values: Any) -> Row[Any]:
    stmt = _A.insert().values(**values).returning(*LEDGER_COLUMNS)
    return (await session.execute(stmt)).one()


async def lock_applications(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Row[Any]]:
    """The applications, locked in id order (two batches naming the same ones queue, never deadlock)."""
    stmt = (
        select(_A)
        .where(_A.c.application_id.in_(list(ids)))
        .order_by(_A.c.application_id)
        .with_for_update()
    )
    return list((await session.execute(stmt)).all())


async def decide(
    session: AsyncSession,
    application_id: uuid.UUID,
    *,
    status: str,
    reason: str | None,
    registration_id: uuid.UUID | None,
    decided_at: dt.datetime,
    decided_by: uuid.UUID | None,
) -> None:
    await session.execute(
        _A.update()
        .where(_A.c.application_id == application_id, _A.c.status == "pending")
        .values(
            status=status,
            reason=reason,
            registration_id=registration_id,
            decided_at=decided_at,
            decided_by=decided_by,
        )
    )


async def ledger(
    session: AsyncSession, *, month: str | None, status: str | None, after: Cursor | None, limit: int | None
) -> list[Row[Any]]:
    clauses = []
    if month is not None:
        clauses.append(_A.c.month == month)
    if status is not None:
        clauses.append(_A.c.status == status)
    if after is not None:
        clauses.append(tuple_(_A.c.created_at, _A.c.application_id) > tuple_(*after))
    stmt = select(*LEDGER_COLUMNS).where(*clauses).order_by(_A.c.created_at, _A.c.application_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).all())


async def policy_documents(session: AsyncSession, region: str, day: dt.date) -> list[tuple[str, dict[str, Any]]]:
    """(insutype, document) of each of the region's policies in force on ``day``, 310 first."""
    rows = (
        await session.execute(
            text(
                "SELECT DISTINCT ON (insutype) insutype, document::text FROM policies "
                "WHERE region = :region AND effective_from <= :day ORDER BY insutype, effective_from DESC"
            ),
            {"region": region, "day": day},
        )
    ).all()
    return [(r[0], json.loads(r[1], parse_float=Decimal)) for r in rows]


#: Screening 主动筛查 (api.md): one month of live settlements with a diagnosis — an index-only
#: scan of the covering partial index settlements_screening (migration 0007) — at hospitals
#: of level ≥ 2, of persons insured in the region whose aid category the disease admits,
#: with a diagnosis under one of its prefixes, and no registration for the disease active on
#: the month's last day. ``:diseases`` is a JSON array of {disease_code, prefixes (upper
#: case), categories}. The answer is built by PostgreSQL as the JSON array of candidates
#: (api.md's shape: dates YYYY-MM-DD, ids as strings): tens of thousands of candidates would
#: otherwise cost seconds of row decoding and response validation in Python.
SCREENING_SQL = text("""
WITH d AS (
  SELECT x.disease_code, x.prefixes, x.categories
  FROM jsonb_to_recordset(CAST(:diseases AS jsonb)) AS x(disease_code text, prefixes text[], categories text[])
), s AS (
  SELECT s.settlement_id, s.person_id, s.encounter_date, s.institution_code, s.diagnoses, p.aid_category
  FROM settlements s
  JOIN persons p ON p.person_id = s.person_id
  JOIN institutions i ON i.code = s.institution_code
  WHERE s.status = 'settled' AND s.diagnoses <> '{}'
    AND s.encounter_date >= :first AND s.encounter_date <= :last
    AND p.insured_region = :region AND p.aid_category = ANY(CAST(:categories AS text[]))
    AND i.kind = 'hospital' AND i.level >= 2
), m AS (
  SELECT s.person_id, d.disease_code, s.settlement_id, s.encounter_date, s.institution_code, s.diagnoses
  FROM s JOIN d ON s.aid_category = ANY(d.categories)
  WHERE EXISTS (SELECT 1 FROM unnest(s.diagnoses) AS dx, unnest(d.prefixes) AS pre
                WHERE upper(dx) LIKE pre || '%')
    AND NOT EXISTS (SELECT 1 FROM special_disease_registrations r
                    WHERE r.person_id = s.person_id AND r.disease_code = d.disease_code
                      AND r.valid_from <= :last AND r.valid_to >= :last)
), c AS (
  SELECT m.person_id, m.disease_code,
         json_agg(json_build_object('settlement_id', m.settlement_id, 'encounter_date', m.encounter_date,
                                    'institution_code', m.institution_code, 'diagnoses', m.diagnoses)
                  ORDER BY m.encounter_date, m.settlement_id) AS evidence
  FROM m GROUP BY m.person_id, m.disease_code
)
SELECT COALESCE(json_agg(json_build_object('person_id', c.person_id, 'disease_code', c.disease_code,
                                           'evidence', c.evidence)
                         ORDER BY c.person_id, c.disease_code), '[]')::text
FROM c
""")


async def screening(
    session: AsyncSession,
    *,
    region: str,
    first: dt.date,
    last: dt.date,
    diseases: list[dict[str, Any]],
) -> str:
    """The candidates as a JSON array (text). The query is an analytic one on the request's
    transaction: JIT compilation (seconds at 10 M settlements, for a query that runs once)
    is off for it, and its hashes and sort get memory instead of spilling to disk."""
    categories = sorted({c for d in diseases for c in d["categories"]})
    params = {
        "diseases": json.dumps(diseases),
        "categories": categories,
        "region": region,
        "first": first,
        "last": last,
    }
    await session.execute(text("SET LOCAL jit = off"))
    await session.execute(text("SET LOCAL work_mem = '64MB'"))
    return str((await session.execute(SCREENING_SQL, params)).scalar_one())


async def count_pending(session: AsyncSession, month: str) -> int:
    stmt = select(func.count()).select_from(_A).where(_A.c.month == month, _A.c.status == "pending")
    return int((await session.execute(stmt)).scalar_one())
