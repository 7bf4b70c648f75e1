"""Store N settlements quickly with bulk SQL, to measure the service on a database with history.

``grow(db_url, n, persons)`` clones settlements the service itself stored earlier in the
run (the "sources": up to 150 real settlements of every med_type, with their deltas), so
every value is one the engine produced: settlement N gets a new version-7 settlement
id of its own time, a synthetic person of the same region, its own encounter id and
idempotency key, and a ``settled_at`` spread over this year so far; its stored
response is the source's with the ids replaced. Rows go in with ``INSERT … SELECT``
from ``generate_series``, in batches of ``batch`` settlements, one transaction each,
into settlements (whose response holds the item and fund lines), settlement_deltas
and idempotency_keys, with every index in place (as the service's own inserts find them).

Accumulators are not rebuilt from the grown history: they are one row per person,
year and name whatever the history, so their size (and cost) does not depend on it.

Run alone: ``python bench/grow.py postgresql://… 1000000 --persons 10000``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path
from typing import Callable

import asyncpg

SOURCES_SQL = """
CREATE TEMP TABLE grow_src ON COMMIT PRESERVE ROWS AS
SELECT (row_number() OVER (ORDER BY s.settlement_id) - 1)::int AS k, s.*,
       CASE substr(s.person_id, 2, 6) WHEN '441900' THEN 0 WHEN '442000' THEN 1 ELSE 2 END AS ridx,
       substr(s.person_id, 2, 6) AS region,
       s.response::text AS response_text
FROM (
  SELECT *, row_number() OVER (PARTITION BY med_type ORDER BY settlement_id) AS nth
  FROM settlements WHERE status = 'settled' AND person_id LIKE 'S%'
) s WHERE s.nth <= 150;
CREATE TEMP TABLE grow_src_deltas ON COMMIT PRESERVE ROWS AS
  SELECT g.k, d.* FROM settlement_deltas d JOIN grow_src g USING (settlement_id);
CREATE INDEX ON grow_src (k);
CREATE INDEX ON grow_src_deltas (k);
ANALYZE grow_src; ANALYZE grow_src_deltas;
"""

# $1, $2: the batch's first and last number; $3: number of sources; $4: persons per region;
# $5: run tag (unique ids across grows); $6: seconds of history (this year so far, so the
# policies in force, effective from January 1st, apply)
BATCH_SQL = [
    # which source, person and time each new settlement gets
    """
    CREATE TEMP TABLE grow_batch ON COMMIT DROP AS
    SELECT t.g, t.k, t.pid, t.eid, t.at,
           -- a version-7 id of the settlement's own time, as the service makes (app.kit.ids)
           (lpad(to_hex(floor(extract(epoch FROM t.at) * 1000)::bigint), 12, '0') || '7'
            || substr(t.h, 1, 3) || '8' || substr(t.h, 4, 15))::uuid AS sid
    FROM (
      SELECT g, src.k, md5($5 || ':' || g) AS h,
             'S' || src.region || lpad((3 * ((g * 7919) % $4) + src.ridx)::text, 8, '0') AS pid,
             'G' || $5 || g AS eid,
             now() - make_interval(secs => (g * 104729 % $6)::double precision) AS at
      FROM generate_series($1::bigint, $2::bigint) AS g
      JOIN grow_src src ON src.k = (g % $3)::int
    ) t
    ORDER BY sid
    """,
    """
    INSERT INTO settlements (settlement_id, institution_code, person_id, encounter_id, insutype, med_type,
      encounter_date, accumulation_year, policy_region, policy_insutype, policy_effective_from, cross_region,
      status, settled_at, reversed_at, total, self_pay_full, over_limit, pre_self_pay, in_scope, deductible,
      pool_self_pay, over_cap, basic_fund, critical_illness, medical_aid, fallback, secondary_aid, fund_total,
      personal_total, personal_account, cash, referral_id, e_voucher_hash, response)
    SELECT b.sid, s.institution_code, b.pid, b.eid, s.insutype, s.med_type,
      (b.at AT TIME ZONE 'Asia/Shanghai')::date, extract(year FROM b.at AT TIME ZONE 'Asia/Shanghai')::smallint,
      s.policy_region, s.policy_insutype, s.policy_effective_from, s.cross_region,
      'settled', b.at, NULL, s.total, s.self_pay_full, s.over_limit, s.pre_self_pay, s.in_scope, s.deductible,
      s.pool_self_pay, s.over_cap, s.basic_fund, s.critical_illness, s.medical_aid, s.fallback, s.secondary_aid,
      s.fund_total, s.personal_total, s.personal_account, s.cash, NULL, NULL,
      replace(replace(replace(s.response_text, s.settlement_id::text, b.sid::text),
                      s.person_id, b.pid), s.encounter_id, b.eid)::json
    FROM grow_batch b JOIN grow_src s USING (k)
    """,
    """
    INSERT INTO settlement_deltas (settlement_id, name, amount)
    SELECT b.sid, d.name, d.amount FROM grow_batch b JOIN grow_src_deltas d USING (k)
    """,
    """
    INSERT INTO idempotency_keys (institution_code, key, fingerprint, settlement_id, created_at)
    SELECT s.institution_code, 'K' || b.eid, decode(md5(b.eid) || md5(b.sid::text), 'hex'), b.sid, b.at
    FROM grow_batch b JOIN grow_src s USING (k)
    """,
]


async def grow_async(
    db_url: str, n: int, persons: int, *, batch: int = 50_000, log: Callable[[str], None] = print
) -> dict[str, float]:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(SOURCES_SQL)
        sources = await conn.fetchval("SELECT count(*) FROM grow_src")
        if not sources:
            raise RuntimeError("no settled settlements of synthetic persons to clone: settle some first")
        per_region = max(1, persons // 3)
        tag = secrets.token_hex(3)
        before = await conn.fetchval("SELECT count(*) FROM settlements")
        log(f"grow: {n:,} settlements cloned from {sources} sources, in batches of {batch:,}")
        t0 = time.monotonic()
        done = 0
        while done < n:
            size = min(batch, n - done)
            async with conn.transaction():
                for statement in BATCH_SQL:
                    await conn.execute(statement, *_args(statement, done, done + size - 1, sources, per_region, tag))
            done += size
            rate = done / (time.monotonic() - t0)
            log(f"grow: {done:,}/{n:,} ({rate:,.0f}/s, {(n - done) / rate:,.0f} s to go)")
        elapsed = time.monotonic() - t0
        after = await conn.fetchval("SELECT count(*) FROM settlements")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        log(
            f"grow: settlements {before:,} -> {after:,}, database {size}, {elapsed:.0f} s"
        )
        return {"seconds": elapsed, "settlements": after}
    finally:
        await conn.close()


def _history_seconds() -> int:
    """Seconds from January 1st (China Standard Time) until now, at least a day."""
    import datetime as dt

    cst = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime.now(cst)
    return max(86_400, int((now - dt.datetime(now.year, 1, 1, tzinfo=cst)).total_seconds()) - 60)


def _args(statement: str, first: int, last: int, sources: int, per_region: int, tag: str) -> list:  # noqa: PLR0913
    """Only the first statement takes parameters (the others read grow_batch)."""
    if "$1" in statement:
        return [first, last, sources, per_region, tag, _history_seconds()]
    return []


def grow(db_url: str, n: int, persons: int, *, batch: int = 50_000, log: Callable[[str], None] = print) -> dict:
    return asyncio.run(grow_async(db_url, n, persons, batch=batch, log=log))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db_url")
    p.add_argument("n", type=int)
    p.add_argument("--persons", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=50_000)
    a = p.parse_args()
    grow(a.db_url, a.n, a.persons, batch=a.batch)
