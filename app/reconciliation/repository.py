"""Queries of reconciliation: the centre's records of an institution in a period.

Records (api.md "Reconciliation"): a settlement is a record dated at its settled_at with
``refd_setl_flag`` "0"; its reversal is a second record dated at its reversed_at, amounts
negated, flag "1". Periods are +08:00 calendar days, passed here as [start, end) instants.
Settlements are found through ``settlements_institution`` (institution_code, settled_at),
reversals through ``settlement_reversals_reversed_at``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.kit.clock import CST


def period(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[date_from 00:00, date_to + 1 day 00:00) in China Standard Time."""
    start = dt.datetime.combine(date_from, dt.time(), CST)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), CST)
    return start, end


_CLR_TYPE = "CASE WHEN s.med_type IN ('11', '14') THEN '11' ELSE s.med_type END"


def _totals_sql(with_region: bool) -> str:
    join = "JOIN persons p ON p.person_id = s.person_id" if with_region else ""
    region = "AND p.insured_region = :setl_optins" if with_region else ""
    return f"""
SELECT s.insutype, {_CLR_TYPE} AS clr_type, false AS reversal,
       sum(s.total) AS medfee, sum(s.fund_total) AS fund, sum(s.personal_account) AS acct, count(*) AS n
FROM settlements s {join}
WHERE s.institution_code = :inst AND s.settled_at >= :start AND s.settled_at < :end {region}
GROUP BY 1, 2
UNION ALL
SELECT s.insutype, {_CLR_TYPE}, true,
       -sum(s.total), -sum(s.fund_total), -sum(s.personal_account), count(*)
FROM settlement_reversals r JOIN settlements s ON s.settlement_id = r.settlement_id {join}
WHERE s.institution_code = :inst AND r.reversed_at >= :start AND r.reversed_at < :end {region}
GROUP BY 1, 2
"""


async def center_totals(
    conn: AsyncSession | AsyncConnection,
    institution_code: str,
    start: dt.datetime,
    end: dt.datetime,
    setl_optins: str | None,
) -> list[Any]:
    """Rows (insutype, clr_type, reversal, medfee, fund, acct, n): the originals and the
    reversals of each insutype × clr_type, separately (3201 may leave reversals out)."""
    params: dict[str, Any] = {"inst": institution_code, "start": start, "end": end}
    if setl_optins is not None:
        params["setl_optins"] = setl_optins
    result = await conn.execute(text(_totals_sql(setl_optins is not None)), params)
    return list(result.all())


CENTER_RECORDS_SQL = """
SELECT s.settlement_id::text, '0', s.encounter_id, s.person_id,
       (s.total * 100)::bigint, (s.fund_total * 100)::bigint, (s.personal_account * 100)::bigint
FROM settlements s
WHERE s.institution_code = $1 AND s.settled_at >= $2 AND s.settled_at < $3
UNION ALL
SELECT s.settlement_id::text, '1', s.encounter_id, s.person_id,
       -(s.total * 100)::bigint, -(s.fund_total * 100)::bigint, -(s.personal_account * 100)::bigint
FROM settlement_reversals r JOIN settlements s ON s.settlement_id = r.settlement_id
WHERE s.institution_code = $1 AND r.reversed_at >= $2 AND r.reversed_at < $3
"""


async def center_records(
    conn: AsyncSession | AsyncConnection, institution_code: str, start: dt.datetime, end: dt.datetime
) -> list[Any]:
    """Every record of the period as (settlement_id, flag, encounter_id, person_id, medfee,
    fund, acct) with amounts in cents: one query, on the driver's connection (a 100,000-row
    answer through SQLAlchemy's row objects costs more than the query)."""
    sa_conn = conn if isinstance(conn, AsyncConnection) else await conn.connection()
    raw = await sa_conn.get_raw_connection()
    driver = raw.driver_connection
    return await driver.fetch(CENTER_RECORDS_SQL, institution_code, start, end)


async def store_run(
    conn: AsyncSession | AsyncConnection,
    *,
    kind: str,
    institution_code: str,
    date_from: dt.date,
    date_to: dt.date,
    balanced: bool,
    result: dict[str, Any],
    actor_key_id: uuid.UUID | None,
) -> uuid.UUID:
    run_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO reconciliation_runs (run_id, kind, institution_code, date_from, date_to, balanced, result,"
            " actor_key_id) VALUES (:run_id, :kind, :inst, :date_from, :date_to, :balanced,"
            " CAST(:result AS jsonb), :actor)"
        ),
        {
            "run_id": run_id, "kind": kind, "inst": institution_code, "date_from": date_from, "date_to": date_to,
            "balanced": balanced, "result": json.dumps(result, ensure_ascii=False), "actor": actor_key_id,
        },
    )  # fmt: skip
    return run_id


async def institution_exists(conn: AsyncSession | AsyncConnection, code: str) -> bool:
    return bool((await conn.execute(text("SELECT 1 FROM institutions WHERE code = :c"), {"c": code})).first())
