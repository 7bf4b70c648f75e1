"""The daily rollup behind fund reports, and how a report stays exact with it.

A report's figure for a group is the sum over the group's settlements that are live
(not reversed) now. Write it as every settlement added, minus every reversal:

    live = Σ settlements − Σ reversals (each reversal keyed to its settlement's group)

``report_daily`` (and ``report_monthly``, the same by month) holds the settlements with ``settled_at < settled_before`` and the
reversals with ``reversed_at < reversed_before`` (``report_rollup_state``); a report adds
the rest live — settlements at or after ``settled_before`` (index on settled_at) and
reversals at or after ``reversed_before`` (index on settlement_reversals.reversed_at). The
two parts never overlap and together are everything, whatever order rows committed in.

Why a horizon, not "rows seen so far": ``settled_at`` is taken by the service before its
transaction commits, so rows commit out of ``settled_at`` order, and a plain watermark
(max settled_at folded) would skip a row that commits late with an earlier time. A fold
therefore only moves a horizon to a time no uncommitted transaction can still write
before: ``least(now(), oldest open transaction's start) − margin`` (pg_stat_activity,
read before the fold's snapshot is taken; the margin covers the gap between the
service's clock reading and its transaction's start; the service's clock — which stamps
``settled_at`` and ``reversed_at`` — is assumed to agree with the database's within it).
Rows behind the horizon are all
committed and visible to the fold; rows after it stay in the live part until a later
fold. A fold takes a transaction-level advisory lock, so two folds never add twice.

The aid category is not stored on a settlement: the fold takes the person's category as
it is at fold time (one primary-key lookup per settlement folded; the live part does the
same). Categories change rarely; a change between a settlement and its fold (at most
one fold interval, a minute by default) puts that settlement under the new category.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.reports.tables import FUND_COLUMNS

#: Arbitrary constant for pg_try_advisory_xact_lock: "medsettle report fold".
FOLD_LOCK_KEY = 7_303_417_001

#: How far behind the oldest open transaction (and now) a fold's horizon stays.
DEFAULT_MARGIN = dt.timedelta(seconds=120)

_FUNDS = list(FUND_COLUMNS.values())

#: The group columns of one settlement, and its sums, signed by ``sign`` (1 or -1).
#: ``s`` is a settlements row, ``p`` its person (LEFT JOIN).
EVENT_COLUMNS = (
    "(s.settled_at AT TIME ZONE 'Asia/Shanghai')::date AS day, s.institution_code, s.med_type, s.insutype, "
    "COALESCE(p.aid_category, '') AS aid_category, {sign} AS settlements, "
    "CASE WHEN s.over_cap <> 0 THEN {sign} ELSE 0 END AS capped, {sign} * s.total AS total, "
    + ", ".join(f"{{sign}} * s.{c} AS {c}, CASE WHEN s.{c} <> 0 THEN {{sign}} ELSE 0 END AS {c}_n" for c in _FUNDS)
)

SUM_COLUMNS = "sum(settlements) AS settlements, sum(capped) AS capped, sum(total) AS total, " + ", ".join(
    f"sum({c}) AS {c}, sum({c}_n) AS {c}_n" for c in _FUNDS
)
KEY_COLUMNS = "day, institution_code, med_type, insutype, aid_category"
VALUE_COLUMNS = ["settlements", "capped", "total"] + [x for c in _FUNDS for x in (c, f"{c}_n")]


def events_sql(settled_where: str, reversed_where: str) -> str:
    """Settlements (``+``) matching ``settled_where`` and reversals (``−``) matching
    ``reversed_where`` (``r`` is the settlement_reversals row), as signed event rows."""
    return (
        f"SELECT {EVENT_COLUMNS.format(sign=1)} FROM settlements s "
        f"LEFT JOIN persons p ON p.person_id = s.person_id WHERE {settled_where} "
        f"UNION ALL SELECT {EVENT_COLUMNS.format(sign=-1)} FROM settlement_reversals r "
        f"JOIN settlements s ON s.settlement_id = r.settlement_id "
        f"LEFT JOIN persons p ON p.person_id = s.person_id WHERE {reversed_where}"
    )


FOLD_SQL = f"""
WITH ev AS ({events_sql(
    "s.settled_at >= :settled_before AND s.settled_at < :horizon",
    "r.reversed_at >= :reversed_before AND r.reversed_at < :horizon",
)}),
agg AS (SELECT {KEY_COLUMNS}, {SUM_COLUMNS} FROM ev GROUP BY {KEY_COLUMNS}),
ins AS (
  INSERT INTO report_daily AS d ({KEY_COLUMNS}, {", ".join(VALUE_COLUMNS)})
  SELECT {KEY_COLUMNS}, {", ".join(VALUE_COLUMNS)} FROM agg
  ON CONFLICT ({KEY_COLUMNS}) DO UPDATE SET {", ".join(f"{c} = d.{c} + EXCLUDED.{c}" for c in VALUE_COLUMNS)}
  RETURNING 1
),
agg_m AS (
  SELECT date_trunc('month', day)::date AS month, institution_code, med_type, insutype, aid_category,
         {", ".join(f"sum({c}) AS {c}" for c in VALUE_COLUMNS)}
  FROM agg GROUP BY 1, 2, 3, 4, 5
),
ins_m AS (
  INSERT INTO report_monthly AS d (month, institution_code, med_type, insutype, aid_category, {", ".join(VALUE_COLUMNS)})
  SELECT month, institution_code, med_type, insutype, aid_category, {", ".join(VALUE_COLUMNS)} FROM agg_m
  ON CONFLICT (month, institution_code, med_type, insutype, aid_category)
  DO UPDATE SET {", ".join(f"{c} = d.{c} + EXCLUDED.{c}" for c in VALUE_COLUMNS)}
  RETURNING 1
)
UPDATE report_rollup_state SET settled_before = :horizon, reversed_before = :horizon, folded_at = now()
WHERE id = 1 RETURNING (SELECT count(*) FROM ins) + 0 * (SELECT count(*) FROM ins_m) AS groups
"""

ENSURE_STATE_SQL = (
    "INSERT INTO report_rollup_state (id, settled_before, reversed_before)"
    " VALUES (1, '-infinity', '-infinity') ON CONFLICT DO NOTHING"
)

# The state row is read here, before the fold: a CTE of the fold statement reading it would
# run after the statement's own UPDATE of that row (and, locking it, see nothing).
HORIZON_SQL = """
SELECT (SELECT settled_before FROM report_rollup_state WHERE id = 1) AS settled_before,
       (SELECT reversed_before FROM report_rollup_state WHERE id = 1) AS reversed_before,
       least(now(), COALESCE(min(xact_start), now())) - make_interval(secs => :margin) AS horizon,
       least(now(), COALESCE(min(xact_start), now())) - make_interval(secs => :margin)
         > (SELECT settled_before FROM report_rollup_state WHERE id = 1) AS ahead
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
"""


async def fold(conn: AsyncSession | AsyncConnection, margin: dt.timedelta = DEFAULT_MARGIN) -> dict[str, Any]:
    """Move the rollup's horizons forward as far as is safe, in the caller's transaction.

    Returns ``{"folded": bool, "horizon": datetime | None, "groups": int}``; ``folded`` is
    false when another fold holds the lock (the caller's report is exact anyway).

    Call it as the first statements of its transaction: the horizon must be read (from
    pg_stat_activity, which a transaction reads once) before the fold's snapshot.
    """
    got = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FOLD_LOCK_KEY})).scalar()
    if not got:
        return {"folded": False, "horizon": None, "groups": 0}
    await conn.execute(text(ENSURE_STATE_SQL))
    row = (await conn.execute(text(HORIZON_SQL), {"margin": margin.total_seconds()})).one()
    horizon = row.horizon
    if not row.ahead:
        return {"folded": False, "horizon": None, "groups": 0}
    params = {"horizon": horizon, "settled_before": row.settled_before, "reversed_before": row.reversed_before}
    groups = (await conn.execute(text(FOLD_SQL), params)).scalar()
    return {"folded": True, "horizon": horizon, "groups": int(groups or 0)}


async def fold_periodically(state: Any, interval: float) -> None:
    """The background step: fold every ``interval`` seconds, each in its own transaction,
    so reports find little to read live. Errors are logged, never raised (the next tick
    tries again; reports stay exact without any fold)."""
    import asyncio

    import structlog

    log = structlog.get_logger("medsettle.reports")
    while True:
        await asyncio.sleep(interval)
        try:
            async with state.engine.begin() as conn:
                await fold(conn, state.report_fold_margin)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed tick must not end the loop
            log.warning("report_fold_failed", error=type(exc).__name__)
