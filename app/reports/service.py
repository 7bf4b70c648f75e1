"""Fund reports (api.md "Reports"): fund payments grouped as asked, and caps reached.

Fund payments read ``report_daily`` plus the live part after its horizons
(app.reports.rollup); before reading, a report folds what is safe to fold, so the live
part stays small even without the periodic fold.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.kit.clock import CST
from app.reports import rollup
from app.reports.exceptions import BadGroupBy
from app.reports.tables import FUND_COLUMNS

#: Funds' names in reports (national fund codes in api.md "Settlements").
FUND_NAMES: dict[str, str] = {
    "basic": "统筹基金",
    "critical_illness": "大病保险",
    "medical_aid": "医疗救助",
    "fallback": "兜底保障",
    "secondary_aid": "医疗再救助",
    "personal_account": "个人账户",
    "cash": "现金",
}

#: Group keys → SQL over ``src`` (rollup rows and live events) and ``i`` (the institution).
GROUP_SQL: dict[str, str] = {
    "month": "to_char(src.day, 'YYYY-MM')",
    "med_type": "src.med_type",
    "institution_level": "i.level",
    "institution_code": "src.institution_code",
    "region": "i.region",
    "aid_category": "NULLIF(src.aid_category, '')",
    "insutype": "src.insutype",
    # not in api.md's list: the dashboard's daily series
    "day": "src.day",
}
API_GROUP_KEYS = ("fund", "month", "med_type", "institution_level", "institution_code", "region", "aid_category",
                  "insutype")  # fmt: skip


def parse_group_by(raw: str | None) -> list[str]:
    """``fund,month`` → ["fund", "month"]; unknown or repeated keys are 422; fund is always one."""
    keys = [k.strip() for k in (raw or "fund").split(",") if k.strip()]
    for k in keys:
        if k not in API_GROUP_KEYS:
            raise BadGroupBy(f"Unknown group_by key; use a comma list of {', '.join(API_GROUP_KEYS)}.")
    if len(set(keys)) != len(keys):
        raise BadGroupBy("A group_by key is repeated.")
    if "fund" not in keys:
        keys.insert(0, "fund")
    return keys


def _bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(date_from, dt.time(), CST)
    return start, dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), CST)


async def aggregate(
    conn: AsyncSession | AsyncConnection,
    date_from: dt.date,
    date_to: dt.date,
    keys: Sequence[str],
    institution_code: str | None = None,
) -> list[Any]:
    """Sums of live settlements by settlement day in [date_from, date_to], grouped by
    ``keys`` (of GROUP_SQL): one row per group with every value column of the rollup."""
    start, end = _bounds(date_from, date_to)
    months, edges = split_months(date_from, date_to) if "day" not in keys else (None, [(date_from, date_to)])
    inst_d = "AND d.institution_code = :inst" if institution_code else ""
    inst_s = "AND s.institution_code = :inst" if institution_code else ""
    settled_before, reversed_before = await horizons(conn)
    live = rollup.events_sql(
        f"s.settled_at >= :live_from AND s.settled_at < :end {inst_s}",
        f"r.reversed_at >= :reversed_before AND s.settled_at >= :start AND s.settled_at < :end {inst_s}",
    )
    values = ", ".join(rollup.VALUE_COLUMNS)
    group = [GROUP_SQL[k] for k in keys]
    select_keys = "".join(f"{g} AS k{n}, " for n, g in enumerate(group))
    sums = ", ".join(f"sum(src.{c}) AS {c}" for c in rollup.VALUE_COLUMNS)
    group_by = ("GROUP BY " + ", ".join(str(n + 1) for n in range(len(group)))) if group else ""
    sql = f"""
WITH src AS (
  SELECT {rollup.KEY_COLUMNS}, {values} FROM report_daily d
  WHERE ({" OR ".join(f"d.day BETWEEN :e{n}_from AND :e{n}_to" for n in range(len(edges))) or "false"}) {inst_d}
  UNION ALL
  SELECT d.month AS day, institution_code, med_type, insutype, aid_category, {values} FROM report_monthly d
  WHERE {"d.month BETWEEN :m_from AND :m_to" if months else "false"} {inst_d}
  UNION ALL
  SELECT {rollup.KEY_COLUMNS}, {values} FROM ({live}) e
)
SELECT {select_keys}{sums}
FROM src LEFT JOIN institutions i ON i.code = src.institution_code
{group_by}
"""
    params: dict[str, Any] = {"start": start, "end": end, "live_from": max(start, settled_before),
                              "reversed_before": reversed_before}
    for n, (e_from, e_to) in enumerate(edges):
        params[f"e{n}_from"], params[f"e{n}_to"] = e_from, e_to
    if months:
        params["m_from"], params["m_to"] = months
    if institution_code:
        params["inst"] = institution_code
    return list((await conn.execute(text(sql), params)).all())



async def horizons(conn: AsyncSession | AsyncConnection) -> tuple[dt.datetime, dt.datetime]:
    """The rollup's horizons, read with FOR SHARE: no fold can move them (nor commit what it
    folded) until this transaction ends, so the rollup and the live part this transaction
    reads next agree. Passed to the report query as plain values, so that the planner sees
    how narrow the live part is (an index range of minutes, not the report's whole period).
    """
    await conn.execute(text(rollup.ENSURE_STATE_SQL))
    row = (
        await conn.execute(
            text(
                "SELECT greatest(settled_before, '0001-01-02 00:00+00') AS s,"
                " greatest(reversed_before, '0001-01-02 00:00+00') AS r FROM report_rollup_state WHERE id = 1 FOR SHARE"
            )
        )
    ).one()
    return row.s, row.r


def split_months(date_from: dt.date, date_to: dt.date) -> tuple[tuple[dt.date, dt.date] | None, list]:
    """[date_from, date_to] → (first days of the first and last whole month inside, or None;
    the day ranges left at the edges). 2026-05-20..2026-08-10 → ((06-01, 07-01), [(05-20, 05-31),
    (08-01, 08-10)])."""
    first = date_from if date_from.day == 1 else (date_from.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    after = date_to + dt.timedelta(days=1)
    end = after if after.day == 1 else date_to.replace(day=1)  # first day after the last whole month
    if first >= end:
        return None, [(date_from, date_to)]
    edges = []
    if date_from < first:
        edges.append((date_from, first - dt.timedelta(days=1)))
    if end <= date_to:
        edges.append((end, date_to))
    last_month = (end - dt.timedelta(days=1)).replace(day=1)
    return (first, last_month), edges


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


async def fund_payments(
    conn: AsyncSession | AsyncConnection,
    date_from: dt.date,
    date_to: dt.date,
    group_by: Sequence[str],
    institution_code: str | None = None,
) -> list[dict[str, Any]]:
    """api.md rows: ``fund``, ``fund_name``, the other keys in ``group_by`` order, ``amount``,
    ``settlements``; one per group with a non-zero amount, sorted by the keys."""
    others = [k for k in group_by if k != "fund"]
    rows = await aggregate(conn, date_from, date_to, others, institution_code)
    out: list[dict[str, Any]] = []
    for row in rows:
        m = row._mapping
        keys = {k: m[f"k{n}"] for n, k in enumerate(others)}
        for fund, column in FUND_COLUMNS.items():
            amount: Decimal = m[column] or Decimal("0")
            if amount == 0:
                continue
            item: dict[str, Any] = {"fund": fund, "fund_name": FUND_NAMES[fund]}
            for k in group_by:
                if k != "fund":
                    item[k] = keys[k]
            item["amount"] = amount
            item["settlements"] = int(m[f"{column}_n"])
            out.append(item)
    fund_order = list(FUND_COLUMNS)
    out.sort(key=lambda r: tuple(
        (0, fund_order.index(r["fund"])) if k == "fund" else _sort_key(r[k]) for k in group_by
    ))  # fmt: skip
    return out


# --------------------------------------------------------------------------- caps and limits

CAPS_SQL = """
WITH basic AS (
  SELECT 'basic' AS fund, s.settlement_id, s.person_id, s.settled_at
  FROM settlements s
  WHERE s.status = 'settled' AND s.over_cap <> 0 AND s.settled_at >= :start AND s.settled_at < :end {inst}
), layered AS (
  SELECT CASE dl.name WHEN 'ci_paid' THEN 'critical_illness' WHEN 'aid_paid' THEN 'medical_aid'
                      ELSE 'secondary_aid' END AS fund,
         s.settlement_id, s.person_id, s.settled_at, dl.amount,
         (SELECT sum(d2.amount) FROM settlements s2
          JOIN settlement_deltas d2 ON d2.settlement_id = s2.settlement_id AND d2.name = dl.name
          WHERE s2.person_id = s.person_id AND s2.accumulation_year = s.accumulation_year AND s2.status = 'settled'
            AND (s2.settled_at, s2.settlement_id) <= (s.settled_at, s.settlement_id)) AS after,
         CASE dl.name
           WHEN 'ci_paid' THEN CASE
             WHEN COALESCE((pol.document #>> '{{critical_illness,tilt,no_cap}}')::boolean, false)
                  AND COALESCE(pol.document #> '{{critical_illness,tilt,categories}}' ? p.aid_category, false)
             THEN NULL ELSE (pol.document #>> '{{critical_illness,annual_cap}}')::numeric END
           WHEN 'aid_paid' THEN (pol.document -> 'medical_aid' -> 'categories' -> p.aid_category ->> 'annual_cap')::numeric
           ELSE (pol.document #>> '{{secondary_aid,annual_cap}}')::numeric
         END AS cap
  FROM settlements s
  JOIN settlement_deltas dl ON dl.settlement_id = s.settlement_id AND dl.name IN ('ci_paid', 'aid_paid', 'sa_paid')
  JOIN policies pol ON pol.region = s.policy_region AND pol.insutype = s.policy_insutype
                   AND pol.effective_from = s.policy_effective_from
  LEFT JOIN persons p ON p.person_id = s.person_id
  WHERE s.status = 'settled' AND s.settled_at >= :start AND s.settled_at < :end {inst}
), reached AS (
  SELECT fund, settlement_id, person_id, settled_at FROM basic
  UNION ALL
  SELECT fund, settlement_id, person_id, settled_at FROM layered
  WHERE cap IS NOT NULL AND after >= cap AND after - amount < cap
)
SELECT fund, to_char((settled_at AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM') AS month,
       count(DISTINCT person_id) AS persons, count(*) AS settlements
FROM reached GROUP BY 1, 2
"""


async def caps_reached(
    conn: AsyncSession | AsyncConnection, date_from: dt.date, date_to: dt.date, institution_code: str | None = None
) -> list[dict[str, Any]]:
    """Persons who reached a cap or limit, per fund and month (of settlement, +08:00), over
    live settlements: ``basic`` where the basic layer was held by its annual cap, a rule's
    annual limit or a disease's limit (``over_cap`` ≠ 0, every such settlement counts);
    ``critical_illness``, ``medical_aid``, ``secondary_aid`` at the settlement whose payment
    brought the person's paid-this-year to the policy's annual cap (none when the person's
    category has no cap). Rows: fund, fund_name, month, persons, settlements."""
    start, end = _bounds(date_from, date_to)
    inst = "AND s.institution_code = :inst" if institution_code else ""
    params: dict[str, Any] = {"start": start, "end": end}
    if institution_code:
        params["inst"] = institution_code
    rows = (await conn.execute(text(CAPS_SQL.format(inst=inst)), params)).all()
    order = list(FUND_COLUMNS)
    out = [
        {"fund": r.fund, "fund_name": FUND_NAMES[r.fund], "month": r.month, "persons": int(r.persons),
         "settlements": int(r.settlements)}
        for r in rows
    ]  # fmt: skip
    out.sort(key=lambda r: (order.index(r["fund"]), r["month"]))
    return out


def rows_csv(rows: Sequence[dict[str, Any]], header: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row[k] is None else _cell(row[k]) for k in header])
    return buf.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
