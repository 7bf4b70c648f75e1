"""Detail reconciliation (3202) of a 100,000-record file: how long the service takes.

    python bench/reconcile.py                 # 100,000 records (the issue's bound: ≤ 5 s)
    python bench/reconcile.py --records 1000000

On the machine's PostgreSQL (MEDSETTLE_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/postgres) it creates a database (dropped at the end),
stores N settlements of one institution in one month with bulk SQL (bench/reports.py's
rows; 2 % of them reversed in the month, so their reversal is a record too), writes the
institution's detail file from the centre's records with a few perturbations (missing,
extra, changed amounts), and posts it to ``POST /v1/reconciliations/details`` through the
ASGI app in this process — parse, query, compare and answer, as JSON and as CSV. Prints
the time of each; the last line is ``reconcile 100,000 records: X.XX s``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.kit.db import to_async_url, to_libpq_url, with_database  # noqa: E402
from app.kit.migrate import upgrade_head_async  # noqa: E402
from bench.reports import BATCH_SQL, PERSONS_SQL  # noqa: E402

HEADER = "settlement_id,encounter_id,person_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\n"
CST = dt.timezone(dt.timedelta(hours=8))


async def build(url: str, n: int) -> tuple[str, dt.date, dt.date]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO regions VALUES ('441900', '东莞', now())")
        await conn.execute(
            "INSERT INTO institutions (code, name, kind, level, region, active)"
            " VALUES ('I00000', 'h', 'hospital', 3, '441900', true)"
        )
        await conn.execute(PERSONS_SQL, 20_000)
        # N settlements over the last 25 days (one institution), then 2 % reversed a minute later
        tag = secrets.token_hex(3)
        for first in range(0, n, 200_000):
            last = min(n, first + 200_000) - 1
            await conn.execute(BATCH_SQL, first, last, 1, 20_000, 25 * 86400, tag, n)
        await conn.execute(
            "WITH p AS (SELECT settlement_id, settled_at FROM settlements WHERE hashtext(settlement_id::text) % 50 = 0),"
            " r AS (INSERT INTO settlement_reversals (settlement_id, reversed_at)"
            "       SELECT settlement_id, settled_at + interval '1 minute' FROM p)"
            " UPDATE settlements s SET status = 'reversed', reversed_at = p.settled_at + interval '1 minute'"
            " FROM p WHERE p.settlement_id = s.settlement_id"
        )
        await conn.execute("VACUUM ANALYZE")
        lo, hi = await conn.fetchrow("SELECT min(settled_at), max(reversed_at) FROM settlements")
        return "I00000", lo.astimezone(CST).date(), max(hi, lo).astimezone(CST).date() + dt.timedelta(days=1)
    finally:
        await conn.close()


async def detail_file(url: str, inst: str, date_from: dt.date, date_to: dt.date) -> tuple[bytes, int]:
    """The centre's records as the institution would send them, with 10 missing, 10 extra and
    10 changed amounts."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT settlement_id::text, encounter_id, person_id, total::text, fund_total::text,"
            " personal_account::text, '0' FROM settlements WHERE institution_code = $1"
            " UNION ALL SELECT settlement_id::text, encounter_id, person_id, (-total)::text, (-fund_total)::text,"
            " (-personal_account)::text, '1' FROM settlements WHERE institution_code = $1 AND status = 'reversed'",
            inst,
        )
    finally:
        await conn.close()
    lines = [",".join(r) for r in rows[10:]]  # 10 missing
    for k in range(10, 20):  # 10 changed
        f = list(rows[k])
        f[4] = "0.01"
        lines[k - 10] = ",".join(f)
    lines += [f"{uuid.uuid4()},X{k},P0,1.00,0.50,0.00,0" for k in range(10)]  # 10 extra
    return (HEADER + "\n".join(lines) + "\n").encode(), len(lines)


async def main_async(args: argparse.Namespace) -> None:
    server = to_libpq_url(os.environ.get("MEDSETTLE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    name = "medsettle_reconcile_" + secrets.token_hex(4)
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    try:
        await upgrade_head_async(url)
        inst, date_from, date_to = await build(url, args.records)
        body, records = await detail_file(url, inst, date_from, date_to)
        print(f"{records:,} records, {len(body) / 1e6:.1f} MB", flush=True)

        from httpx import ASGITransport, AsyncClient

        from app.kit.auth import generate_key, hash_key
        from app.kit.settings import Settings
        from app.main import create_app

        key = generate_key()
        conn = await asyncpg.connect(url)
        await conn.execute(
            "INSERT INTO api_keys (key_id, key_hash, role, institution_code) VALUES (gen_random_uuid(), $1,"
            " 'institution', $2)", hash_key(key), inst,
        )  # fmt: skip
        await conn.close()
        settings = Settings(_env_file=None, database_url=to_async_url(url), log_level="WARNING",
                            report_fold_interval_seconds=0, reference_listener=False)  # fmt: skip
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with AsyncClient(transport=ASGITransport(app=app), base_url="http://b", timeout=300,
                                   headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip

                async def chunks():
                    for i in range(0, len(body), 65536):
                        yield body[i : i + 65536]

                url_q = f"/v1/reconciliations/details?date_from={date_from}&date_to={date_to}"
                best = None
                for accept in ("application/json", "text/csv", "application/json"):
                    t = time.monotonic()
                    cpu = time.process_time()
                    r = await client.post(url_q, content=chunks(),
                                          headers={"content-type": "text/csv", "accept": accept})  # fmt: skip
                    took = time.monotonic() - t
                    cpu = time.process_time() - cpu
                    assert r.status_code == 200, r.text[:500]
                    if accept == "application/json":
                        summary = r.json()["summary"]
                        assert summary["only_center"] == 10 and summary["only_institution"] == 10, summary
                        assert summary["amounts_differ"] == 10, summary
                        best = took if best is None else min(best, took)
                    print(f"  {accept}: {took:.2f} s (service process CPU {cpu:.2f} s)", flush=True)
                print(f"summary: {summary}")
        print(f"reconcile {records:,} records: {best:.2f} s")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="settlements stored (records: +2 %% reversals)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
