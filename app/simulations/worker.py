"""The simulation processes: ``medsettle simulate <id>`` and its workers.

The coordinator (started by the service, app/simulations/service.py) opens a
read-only REPEATABLE READ transaction, exports its snapshot, counts the
settlements to replay and starts `PARTS` workers (``medsettle simulate <id> --part
i --parts n --snapshot …``). Each worker reads the same snapshot, replays the
persons whose ``hashtext(person_id)`` falls in its part (a person's history never
crosses processes), reports its progress in ``simulation_parts`` and leaves its
share of the result there. The coordinator merges the shares and marks the
simulation done — or failed, with the reason.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from app.engine.model import TOTAL_FIELDS
from app.engine.policy_doc import policy_from_document
from app.simulations.replay import Prior, Replayer, Row, merge

#: Worker processes per simulation: the machine's two cores (docs/simulations.md).
PARTS = 2
#: Rows fetched per round trip by a worker's cursor.
PREFETCH = 2000
#: Seconds between progress writes.
PROGRESS_EVERY = 0.5

_WINDOWS = """
WITH win AS (
  SELECT person_id, accumulation_year AS year, min(settled_at) AS start
  FROM settlements
  WHERE policy_region = $1 AND policy_insutype = $2 AND encounter_date BETWEEN $3 AND $4
    AND (hashtext(person_id) & 2147483647) % $5 = $6
  GROUP BY person_id, accumulation_year
)"""

REPLAYED_SQL = (
    _WINDOWS
    + """
SELECT s.settlement_id::text AS settlement_id, s.person_id, s.accumulation_year, s.settled_at, s.reversed_at,
  s.policy_region, s.policy_insutype, s.policy_effective_from, s.med_type,
  concat_ws(',', """
    + ", ".join(f"s.{name}" for name in TOTAL_FIELDS)
    + """) AS stored,
  s.engine_input, x.origin_settlement_id::text AS origin,
  (s.policy_region = $1 AND s.policy_insutype = $2 AND s.encounter_date BETWEEN $3 AND $4) AS in_scope
FROM win JOIN settlements s
  ON s.person_id = win.person_id AND s.accumulation_year = win.year AND s.settled_at >= win.start
LEFT JOIN referrals x ON x.referral_id = s.referral_id
ORDER BY s.person_id, s.settled_at, s.settlement_id"""
)

COUNT_SQL = (
    _WINDOWS
    + """
SELECT count(*) FROM win JOIN settlements s
  ON s.person_id = win.person_id AND s.accumulation_year = win.year AND s.settled_at >= win.start"""
)

#: Settlements of a replayed year settled before its window and not reversed before it:
#: their stored deltas start the accumulators; a reversal in the window is replayed.
PRIORS_SQL = (
    _WINDOWS
    + """
SELECT s.person_id, s.settlement_id::text AS settlement_id, s.accumulation_year, s.reversed_at,
  ARRAY(SELECT d.name FROM settlement_deltas d WHERE d.settlement_id = s.settlement_id ORDER BY d.name) AS names,
  ARRAY(SELECT d.amount::text FROM settlement_deltas d WHERE d.settlement_id = s.settlement_id ORDER BY d.name)
    AS amounts
FROM win JOIN settlements s
  ON s.person_id = win.person_id AND s.accumulation_year = win.year AND s.settled_at < win.start
 AND (s.reversed_at IS NULL OR s.reversed_at >= win.start)"""
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _begin_snapshot(conn: asyncpg.Connection, snapshot: str | None) -> asyncpg.transaction.Transaction:
    tx = conn.transaction(isolation="repeatable_read", readonly=True)
    await tx.start()
    if snapshot is not None:
        await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    return tx


async def _scope(conn: asyncpg.Connection, simulation_id: uuid.UUID) -> asyncpg.Record:
    sim = await conn.fetchrow(
        "SELECT region, insutype, date_from, date_to, draft::text AS draft FROM simulations WHERE simulation_id = $1",
        simulation_id,
    )
    if sim is None:
        raise LookupError(f"no simulation {simulation_id}")
    return sim


async def run_part(dsn: str, simulation_id: uuid.UUID, part: int, parts: int, snapshot: str | None) -> None:
    """One worker: replay this part's persons and store its share."""
    conn = await asyncpg.connect(dsn)
    progress = await asyncpg.connect(dsn)
    try:
        sim = await _scope(conn, simulation_id)
        scope = (sim["region"], sim["insutype"], sim["date_from"], sim["date_to"], parts, part)
        draft = policy_from_document(orjson.loads(sim["draft"]))
        policies = {
            (r["region"], r["insutype"], r["effective_from"]): policy_from_document(orjson.loads(r["document"]))
            for r in await conn.fetch("SELECT region, insutype, effective_from, document::text AS document FROM policies")
        }
        replayer = Replayer(policies, draft)
        region, insutype = sim["region"], sim["insutype"]
        tx = await _begin_snapshot(conn, snapshot)
        try:
            priors: dict[str, list[Prior]] = defaultdict(list)
            for r in await conn.fetch(PRIORS_SQL, *scope):
                priors[r["person_id"]].append(
                    Prior(
                        r["settlement_id"],
                        r["accumulation_year"],
                        r["reversed_at"],
                        {n: Decimal(a) for n, a in zip(r["names"], r["amounts"])},
                    )
                )
            last_report = time.monotonic()
            person: str | None = None
            rows: list[Row] = []
            async for r in conn.cursor(REPLAYED_SQL, *scope, prefetch=PREFETCH):
                pid = r["person_id"]
                if pid != person:
                    if rows:
                        replayer.person(person, rows, priors.pop(person, ()))
                        rows = []
                    person = pid
                    now = time.monotonic()
                    if now - last_report >= PROGRESS_EVERY:
                        last_report = now
                        await progress.execute(
                            "UPDATE simulation_parts SET replayed = $3 WHERE simulation_id = $1 AND part = $2",
                            simulation_id, part, replayer.replayed,
                        )  # fmt: skip
                rows.append(
                    Row(
                        settlement_id=r["settlement_id"],
                        person_id=pid,
                        year=r["accumulation_year"],
                        settled_at=r["settled_at"],
                        reversed_at=r["reversed_at"],
                        policy_key=(r["policy_region"], r["policy_insutype"], r["policy_effective_from"]),
                        med_type=r["med_type"],
                        stored=r["stored"],
                        engine_input=r["engine_input"],
                        origin_id=r["origin"],
                        in_scope=r["in_scope"],
                        draft_applies=r["policy_region"] == region and r["policy_insutype"] == insutype,
                    )
                )
            if rows:
                replayer.person(person, rows, priors.pop(person, ()))
        finally:
            await tx.rollback()
        await progress.execute(
            "UPDATE simulation_parts SET replayed = $3, partial = $4::json WHERE simulation_id = $1 AND part = $2",
            simulation_id, part, replayer.replayed, orjson.dumps(replayer.partial()).decode(),
        )  # fmt: skip
    finally:
        await conn.close()
        await progress.close()


async def _fail(conn: asyncpg.Connection, simulation_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE simulations SET status = 'failed', error = $2, finished_at = now() "
        "WHERE simulation_id = $1 AND status IN ('queued', 'running')",
        simulation_id,
        reason,
    )


async def coordinate(dsn: str, simulation_id: uuid.UUID, parts: int = PARTS) -> int:
    """The whole simulation: snapshot, workers, merge. Returns the process exit code."""
    control = await asyncpg.connect(dsn)
    reader = await asyncpg.connect(dsn)
    try:
        started = await control.fetchval(
            "UPDATE simulations SET status = 'running', started_at = now() "
            "WHERE simulation_id = $1 AND status = 'queued' RETURNING 1",
            simulation_id,
        )
        if not started:
            _say(f"simulation {simulation_id} is not queued")
            return 1
        try:
            sim = await _scope(control, simulation_id)
            tx = await _begin_snapshot(reader, None)
            snapshot = await reader.fetchval("SELECT pg_export_snapshot()")
            total = await reader.fetchval(
                COUNT_SQL, sim["region"], sim["insutype"], sim["date_from"], sim["date_to"], 1, 0
            )
            await control.execute("UPDATE simulations SET total = $2 WHERE simulation_id = $1", simulation_id, total)
            await control.executemany(
                "INSERT INTO simulation_parts (simulation_id, part) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [(simulation_id, i) for i in range(parts)],
            )
            command = [sys.executable, "-m", "app.cli", "simulate", str(simulation_id), "--parts", str(parts)]
            workers = [
                await asyncio.create_subprocess_exec(*command, "--part", str(i), "--snapshot", snapshot)
                for i in range(parts)
            ]
            codes = [await w.wait() for w in workers]
            await tx.rollback()
            if any(codes):
                await _fail(control, simulation_id, f"a worker process failed (exit codes {codes})")
                return 1
            shares = [
                orjson.loads(r["partial"])
                for r in await control.fetch(
                    "SELECT partial::text AS partial FROM simulation_parts WHERE simulation_id = $1 ORDER BY part",
                    simulation_id,
                )
            ]
            result = merge(shares)
            await control.execute(
                # Only if still running: a restarted service may have failed it meanwhile.
                "UPDATE simulations SET status = 'done', result = $2::json, replayed = $3, finished_at = now() "
                "WHERE simulation_id = $1 AND status = 'running'",
                simulation_id, orjson.dumps(result).decode(), sum(s["replayed"] for s in shares),
            )  # fmt: skip
            return 0
        except Exception as exc:  # the reason is kept; no personal data is in it
            await _fail(control, simulation_id, f"{type(exc).__name__}: the simulation stopped")
            raise
    finally:
        await reader.close()
        await control.close()


def main(args: Any, dsn: str) -> int:
    simulation_id = uuid.UUID(args.simulation_id)
    if args.part is None:
        return asyncio.run(coordinate(dsn, simulation_id, args.parts))
    # A worker allocates a few hundred objects per settlement and keeps few: the cyclic
    # collector's passes (every 700 allocations by default, over everything imported too)
    # cost it about 3 % of its CPU. The modules and constants loaded so far are frozen out
    # of every pass, and the young generation is collected every 50,000 allocations.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    asyncio.run(run_part(dsn, simulation_id, args.part, args.parts, args.snapshot))
    return 0
