"""Fund reports over a large settlement history: build it with bulk SQL, fold it, time reports.

    python bench/reports.py --settlements 10000000          # the issue's size
    python bench/reports.py --settlements 1000000 --keep     # smaller; keep the database

On the machine's PostgreSQL (MEDSETTLE_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/postgres) it creates a database
``medsettle_reports_<random>`` (dropped at the end unless ``--keep``), migrates it, and
inserts N settlements over the last 12 months for ~300 institutions (hospitals of levels
1–3, community centres, pharmacies), every med_type, both insutypes and persons of every
aid category, some of them capped, 2 % reversed — with ``INSERT … SELECT`` from
``generate_series`` in batches, every index in place.

Rows are stored in the slimmest form the report path reads: every column of
``settlements`` the fold and reports read is real and consistent (funds add up to
fund_total, personal_total + fund_total = total), but ``response`` is a small JSON stub
instead of the full itemised response (2–4 kB each, ~30 GB at 10M rows that no report
reads), and there are no deltas or idempotency keys (not read by fund reports).

Then it times: the first fold (the whole history), a month's fund-payment report in
several groupings (after the fold, and with a day of settlements not yet folded), and
for comparison the same month aggregated straight from ``settlements``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.kit.db import to_libpq_url, with_database  # noqa: E402
from app.kit.migrate import upgrade_head_async  # noqa: E402

INSTITUTIONS = 300
PERSONS = 200_000

SETUP_SQL = """
INSERT INTO regions (code, name) VALUES ('441900', '东莞'), ('442000', '中山'), ('440300', '深圳');
INSERT INTO institutions (code, name, kind, level, region, active)
SELECT 'I' || lpad(g::text, 5, '0'), '机构' || g,
       CASE WHEN g % 10 < 5 THEN 'hospital' WHEN g % 10 < 8 THEN 'community' ELSE 'pharmacy' END,
       CASE WHEN g % 10 < 5 THEN 1 + g % 3 WHEN g % 10 < 8 THEN 1 ELSE NULL END,
       (ARRAY['441900', '442000', '440300'])[1 + g % 3], true
FROM generate_series(0, $1 - 1) g;
"""

PERSONS_SQL = """
INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, aid_category, account_balance)
SELECT 'P' || lpad(g::text, 8, '0'), '11010519491231002X', 'p', 'female', '1960-01-01', '441900',
       CASE g % 40 WHEN 0 THEN 'extreme_poverty' WHEN 1 THEN 'minimum_living' WHEN 2 THEN 'registered_poor'
                   WHEN 3 THEN 'low_income' ELSE NULL END, 0
FROM generate_series(0, $1 - 1) g
"""

# $1, $2 first/last number; $3 institutions; $4 persons; $5 seconds of history; $6 tag; $7 total.
# Settlements go in in time order with version-7 ids of their time (as the service makes them),
# so the primary key and the time indexes grow at their right edge as they do in service.
BATCH_SQL = """
INSERT INTO settlements (settlement_id, institution_code, person_id, encounter_id, insutype, med_type,
  encounter_date, accumulation_year, policy_region, policy_insutype, policy_effective_from, cross_region,
  status, settled_at, reversed_at, total, self_pay_full, over_limit, pre_self_pay, in_scope, deductible,
  pool_self_pay, over_cap, basic_fund, critical_illness, medical_aid, fallback, secondary_aid, fund_total,
  personal_total, personal_account, cash, referral_id, e_voucher_hash, response)
SELECT (lpad(to_hex(floor(extract(epoch FROM t.at) * 1000)::bigint), 12, '0') || '7'
        || substr(md5($6 || g), 1, 3) || '8' || substr(md5($6 || g), 4, 15))::uuid, t.inst, t.pid, 'B' || $6 || g, t.insutype, t.med_type, t.at::date, 2026, '441900',
  t.insutype, DATE '2026-01-01', false, 'settled', t.at, NULL,
  t.total, 0, 0, 0, t.total, 0, 0, t.over_cap, t.basic, t.ci, t.aid, 0, t.sa,
  t.basic + t.ci + t.aid + t.sa, t.total - (t.basic + t.ci + t.aid + t.sa), t.acct,
  t.total - (t.basic + t.ci + t.aid + t.sa) - t.acct, NULL, NULL, '{"bench": true}'::json
FROM (
  SELECT g, x.*, CASE WHEN x.insutype = '310' THEN round(least(50, (x.total - x.basic - x.ci - x.aid - x.sa) / 2), 2)
                      ELSE 0 END AS acct
  FROM generate_series($1::bigint, $2::bigint) g,
  LATERAL (
    SELECT 'I' || lpad((g * 7919 % $3)::text, 5, '0') AS inst,
           'P' || lpad((g * 104729 % $4)::text, 8, '0') AS pid,
           CASE WHEN g % 3 = 0 THEN '310' ELSE '390' END AS insutype,
           (ARRAY['11', '11', '11', '41', '41', '14', '21'])[1 + g % 7] AS med_type,
           now() - make_interval(secs => $5 * (1 - g::double precision / $7)) AS at,
           round((50 + (g * 31 % 5000))::numeric + (g % 100) / 100.0, 2) AS total,
           round(((50 + (g * 31 % 5000)) * 0.6)::numeric, 2) AS basic,
           CASE WHEN g % 7 = 6 AND g % 5 = 0 THEN round((g * 13 % 900)::numeric, 2) ELSE 0 END AS ci,
           CASE WHEN g % 40 < 4 THEN round((g % 300)::numeric, 2) ELSE 0 END AS aid,
           CASE WHEN g % 40 < 2 THEN round((g % 90)::numeric, 2) ELSE 0 END AS sa,
           CASE WHEN g % 97 = 0 THEN round((g % 500)::numeric + 1, 2) ELSE 0 END AS over_cap
  ) x
) t
"""

REVERSE_SQL = """
WITH picked AS (
  SELECT settlement_id, settled_at FROM settlements TABLESAMPLE SYSTEM (2) WHERE status = 'settled'
), r AS (
  INSERT INTO settlement_reversals (settlement_id, reversed_at)
  SELECT settlement_id, least(now(), settled_at + interval '2 days') FROM picked
)
UPDATE settlements s SET status = 'reversed', reversed_at = least(now(), p.settled_at + interval '2 days')
FROM picked p WHERE s.settlement_id = p.settlement_id
"""

DIRECT_SQL = """
SELECT med_type, sum(basic_fund), sum(critical_illness), sum(medical_aid), sum(secondary_aid), sum(cash), count(*)
FROM settlements WHERE status = 'settled' AND settled_at >= $1 AND settled_at < $2 GROUP BY 1
"""


async def build(url: str, n: int, batch: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SETUP_SQL.replace("$1", str(INSTITUTIONS)))
        await conn.execute(PERSONS_SQL, PERSONS)
        tag = secrets.token_hex(3)
        history = 365 * 86400
        t0 = time.monotonic()
        done = 0
        while done < n:
            size = min(batch, n - done)
            await conn.execute(BATCH_SQL, done, done + size - 1, INSTITUTIONS, PERSONS, history, tag, n)
            done += size
            rate = done / (time.monotonic() - t0)
            print(f"  built {done:,}/{n:,} ({rate:,.0f}/s)", flush=True)
        await conn.execute(REVERSE_SQL)
        await conn.execute("VACUUM ANALYZE")
        count, reversed_, size = await conn.fetchrow(
            "SELECT count(*), count(*) FILTER (WHERE status = 'reversed'),"
            " pg_size_pretty(pg_database_size(current_database())) FROM settlements"
        )
        print(f"built {count:,} settlements ({reversed_:,} reversed), database {size}, "
              f"{time.monotonic() - t0:.0f} s", flush=True)  # fmt: skip
    finally:
        await conn.close()


async def timed_reports(url: str) -> None:
    from app.kit.settings import Settings
    from app.main import create_app
    from httpx import ASGITransport, AsyncClient

    from app.kit.auth import generate_key, hash_key
    from app.kit.db import to_async_url
    from app.reports import rollup

    key = generate_key()
    conn = await asyncpg.connect(url)
    await conn.execute(
        "INSERT INTO api_keys (key_id, key_hash, role) VALUES (gen_random_uuid(), $1, 'ops')", hash_key(key)
    )
    settings = Settings(_env_file=None, database_url=to_async_url(url), log_level="WARNING",
                        report_fold_interval_seconds=0, reference_listener=False)  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        t = time.monotonic()
        async with app.state.engine.begin() as c:
            result = await rollup.fold(c, rollup.DEFAULT_MARGIN)
        print(f"first fold (whole history): {time.monotonic() - t:.2f} s, {result['groups']:,} groups; "
              f"report_daily rows {await conn.fetchval('SELECT count(*) FROM report_daily'):,}", flush=True)
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        month_end = today.replace(day=1) - dt.timedelta(days=1)
        month_start = month_end.replace(day=1)
        period = f"date_from={month_start}&date_to={month_end}"
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://b",
                               headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip
            for group in ("fund", "fund,month", "fund,institution_code", "fund,med_type,insutype,aid_category",
                          "fund,region,institution_level"):  # fmt: skip
                times = []
                for _ in range(3):
                    t = time.monotonic()
                    r = await client.get(f"/v1/reports/fund-payments?{period}&group_by={group}")
                    times.append(time.monotonic() - t)
                    assert r.status_code == 200, r.text
                print(f"month report {month_start:%Y-%m} group_by={group}: best {min(times):.3f} s, "
                      f"worst {max(times):.3f} s, {len(r.json()['rows'])} rows", flush=True)  # fmt: skip
            t = time.monotonic()
            r = await client.get(f"/v1/reports/fund-payments?date_from={today - dt.timedelta(days=364)}"
                                 f"&date_to={today}&group_by=fund,month")  # fmt: skip
            print(f"12-month report group_by=fund,month: {time.monotonic() - t:.3f} s", flush=True)
            t = time.monotonic()
            r = await client.get(f"/v1/reports/caps?{period}")
            print(f"month caps report: {time.monotonic() - t:.3f} s, {len(r.json()['rows'])} rows", flush=True)
        start = dt.datetime.combine(month_start, dt.time(), dt.timezone(dt.timedelta(hours=8)))
        end = dt.datetime.combine(month_end + dt.timedelta(days=1), dt.time(), dt.timezone(dt.timedelta(hours=8)))
        t = time.monotonic()
        await conn.fetch(DIRECT_SQL, start, end)
        print(f"for comparison, the month aggregated straight from settlements: {time.monotonic() - t:.2f} s",
              flush=True)
    await conn.close()


async def main_async(args: argparse.Namespace) -> None:
    server = to_libpq_url(os.environ.get("MEDSETTLE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    name = "medsettle_reports_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    print(f"database {name}", flush=True)
    try:
        await upgrade_head_async(url)
        await build(url, args.settlements, args.batch)
        await timed_reports(url)
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settlements", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
