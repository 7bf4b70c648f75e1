"""Active screening 主动筛查 over many stored settlements: how long one month's screening takes.

    python bench/screening.py postgresql://postgres@127.0.0.1:5432/postgres [--settlements 10000000]
        [--persons 1000000] [--batch 1000000] [--keep]

A fresh database on that server (dropped at the end unless ``--keep``), ``alembic upgrade
head`` (every index in place, as the service has them), then bulk SQL in the manner of
bench/grow.py: 60 institutions of region 510900 (community, hospital levels 1–3),
``--persons`` persons (60 % insured in 510900; aid categories: 5 % extreme poverty, 5 %
minimum living, 10 % registered poor, the rest none), registrations for M07900 for a
tenth of the registered poor, Suining's demo policy (app.demo.policies.SUINING_390,
whose special diseases list ``diagnoses``), and ``--settlements`` settlements dated over
1 January – 30 November 2026 (about a million a month at 10 M): 2 % reversed, a tenth
without a diagnosis, the rest with one of a few ICD-10 codes (J44, I10, E11+I10, B20,
and codes no disease lists). Only what screening reads is realistic: amounts are
placeholders and the stored response is ``{}``.

Then, after ``ANALYZE`` and ``VACUUM`` (as autovacuum does for an insert-only table; it sets
the visibility map that an index-only scan needs), the service's own screening (``app.chronic.service.screen``, the
query of app/chronic/repository.py) for region 510900 and June 2026, three times, each
timed; the plan of the query (EXPLAIN ANALYZE, BUFFERS) is printed after the timings.
Last line: ``screening: N candidates over S settlements in T s (best of 3; first F s)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REGION = "510900"
MONTH = "2026-06"
INSTITUTIONS = 60
DAYS = 334  # 2026-01-01 .. 2026-11-30

SETUP_SQL = f"""
INSERT INTO regions (code, name) VALUES ('{REGION}', '遂宁市'), ('441900', '东莞市') ON CONFLICT DO NOTHING;
INSERT INTO institutions (code, name, kind, level, region, active)
SELECT 'B{REGION}' || lpad(n::text, 4, '0'), 'bench ' || n,
       CASE WHEN n % 4 = 0 THEN 'community' ELSE 'hospital' END,
       CASE WHEN n % 4 = 0 THEN 1 ELSE n % 4 END, '{REGION}', true
FROM generate_series(0, {INSTITUTIONS - 1}) AS n;
"""

# $1 first, $2 last person number
PERSONS_SQL = f"""
INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, aid_category, account_balance)
SELECT 'B' || lpad(i::text, 9, '0'), '11010519491231002X', 'bench', 'female', DATE '1960-01-01',
       CASE WHEN i % 10 < 6 THEN '{REGION}' ELSE '441900' END,
       CASE i % 20 WHEN 0 THEN 'extreme_poverty' WHEN 1 THEN 'minimum_living'
                   WHEN 2 THEN 'registered_poor' WHEN 3 THEN 'registered_poor' END,
       0
FROM generate_series($1::bigint, $2::bigint) AS i
"""

REGISTRATIONS_SQL = f"""
INSERT INTO special_disease_registrations (registration_id, person_id, disease_code, certifier_code,
  valid_from, valid_to, all_sites, sites)
SELECT gen_random_uuid(), person_id, 'M07900', 'B{REGION}0003', DATE '2026-01-01', DATE '2026-12-31', false,
       ARRAY['B{REGION}0002']
FROM persons WHERE aid_category = 'registered_poor' AND right(person_id, 2)::int < 10
"""

# $1 first, $2 last settlement number, $3 persons, $4 run tag (8 hex digits)
SETTLEMENTS_SQL = f"""
INSERT INTO settlements (settlement_id, institution_code, person_id, encounter_id, insutype, med_type,
  encounter_date, accumulation_year, policy_region, policy_insutype, policy_effective_from, cross_region,
  status, settled_at, reversed_at, total, self_pay_full, over_limit, pre_self_pay, in_scope, deductible,
  pool_self_pay, over_cap, basic_fund, critical_illness, medical_aid, fallback, secondary_aid, fund_total,
  personal_total, personal_account, cash, response, diagnoses)
SELECT (substr($4, 1, 8) || lpad(to_hex(g), 24, '0'))::uuid,
       'B{REGION}' || lpad((g * 7 % {INSTITUTIONS})::text, 4, '0'),
       'B' || lpad(((g * 7919) % $3)::text, 9, '0'),
       'E' || g, '390', '21', d, 2026, '{REGION}', '390', DATE '2026-01-01', false,
       CASE WHEN g % 50 = 0 THEN 'reversed' ELSE 'settled' END,
       d + TIME '10:00', CASE WHEN g % 50 = 0 THEN d + TIME '11:00' END,
       100, 0, 0, 0, 100, 0, 20, 0, 80, 0, 0, 0, 0, 80, 20, 0, 20, '{{}}'::json,
       CASE g % 10 WHEN 0 THEN '{{}}'::text[] WHEN 1 THEN '{{J44.1}}' WHEN 2 THEN '{{I10}}'
                   WHEN 3 THEN '{{E11.9,I10}}' WHEN 4 THEN '{{K29.7}}' WHEN 5 THEN '{{J18.9}}'
                   WHEN 6 THEN '{{M17.1}}' WHEN 7 THEN (CASE WHEN g % 1000 = 7 THEN '{{B20.1}}' ELSE '{{R51}}' END)::text[]
                   WHEN 8 THEN '{{J44.9,I10}}' ELSE '{{N18.5}}' END
FROM (SELECT g, DATE '2026-01-01' + (g * 104729 % {DAYS})::int AS d
      FROM generate_series($1::bigint, $2::bigint) AS g) AS x
"""


def log(msg: str) -> None:
    print(msg, flush=True)


async def create_database(admin_url: str) -> tuple[str, str]:
    from app.kit.db import to_libpq_url, with_database

    name = "medsettle_screening_" + secrets.token_hex(4)
    conn = await asyncpg.connect(to_libpq_url(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, with_database(to_libpq_url(admin_url), name)


async def drop_database(admin_url: str, name: str) -> None:
    from app.kit.db import to_libpq_url

    conn = await asyncpg.connect(to_libpq_url(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def load(url: str, settlements: int, persons: int, batch: int) -> None:
    from app.demo.policies import SUINING_390
    import datetime as dt

    from app.reference.service import document_json, validate_policy

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SETUP_SQL)
        doc = document_json(validate_policy(SUINING_390, REGION, "390", dt.date(2026, 1, 1)))
        await conn.execute(
            "INSERT INTO policies (region, insutype, effective_from, document) VALUES ($1, '390', '2026-01-01', $2::jsonb)",
            REGION, json.dumps(doc),
        )  # fmt: skip
        t0 = time.monotonic()
        for first in range(0, persons, batch):
            await conn.execute(PERSONS_SQL, first, min(persons, first + batch) - 1)
        await conn.execute(REGISTRATIONS_SQL)
        log(f"persons: {persons:,} in {time.monotonic() - t0:.0f} s")
        tag = secrets.token_hex(4)
        t0 = time.monotonic()
        done = 0
        while done < settlements:
            size = min(batch, settlements - done)
            await conn.execute(SETTLEMENTS_SQL, done, done + size - 1, persons, tag)
            done += size
            rate = done / (time.monotonic() - t0)
            log(f"settlements: {done:,}/{settlements:,} ({rate:,.0f}/s, {(settlements - done) / rate:,.0f} s to go)")
        await conn.execute("VACUUM ANALYZE")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        log(f"database: {size}")
    finally:
        await conn.close()


async def measure(url: str) -> tuple[list[float], int, str]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from app.chronic import repository, service
    from app.chronic.schemas import ScreeningIn
    from app.kit.db import to_async_url

    engine = create_async_engine(to_async_url(url))
    times: list[float] = []
    count = 0
    try:
        for _ in range(3):
            async with AsyncSession(engine) as session, session.begin():
                t0 = time.monotonic()
                body = await service.screen(session, ScreeningIn(region=REGION, month=MONTH))
                times.append(time.monotonic() - t0)  # the response body, ready to send
                count = len(json.loads(body)["candidates"])
                log(f"screening {REGION} {MONTH}: {count:,} candidates in {times[-1]:.2f} s")
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(text("SET LOCAL jit = off"))
            await session.execute(text("SET LOCAL work_mem = '64MB'"))
            first, last = service.month_bounds(MONTH)
            diseases = service.screening_rules(await repository.policy_documents(session, REGION, last))
            params = {
                "diseases": json.dumps(diseases),
                "categories": sorted({c for d in diseases for c in d["categories"]}),
                "region": REGION, "first": first, "last": last,
            }  # fmt: skip
            explain = text("EXPLAIN (ANALYZE, BUFFERS) " + str(repository.SCREENING_SQL))
            plan = "\n".join(r[0] for r in (await session.execute(explain, params)).all())
    finally:
        await engine.dispose()
    return times, count, plan


async def main_async(args: argparse.Namespace) -> int:
    from app.kit.migrate import upgrade_head_async

    if args.database:  # measure again on a database an earlier run kept
        from app.kit.db import to_libpq_url, with_database

        name, url = args.database, with_database(to_libpq_url(args.db_url), args.database)
        args.keep = True
        args.settlements = await (await asyncpg.connect(url)).fetchval("SELECT count(*) FROM settlements")
    else:
        name, url = await create_database(args.db_url)
    log(f"database {name}")
    try:
        if not args.database:
            await upgrade_head_async(url)
            await load(url, args.settlements, args.persons, args.batch)
        times, count, plan = await measure(url)
        log(plan)
        log(
            f"screening: {count:,} candidates over {args.settlements:,} settlements in {min(times):.2f} s "
            f"(best of 3; first {times[0]:.2f} s)"
        )
    finally:
        if not args.keep:
            await drop_database(args.db_url, name)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db_url")
    p.add_argument("--settlements", type=int, default=10_000_000)
    p.add_argument("--persons", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=1_000_000)
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--database", help="measure only, on this database kept by an earlier run")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
