"""Benchmark of a policy simulation: N stored settlements replayed under a draft.

    python bench/simulate.py --settlements 1000000      # ≈ what docs/performance.md reports
    python bench/simulate.py --settlements 20000 --keep # smaller; keep the database

What it does:
1. a new database ``medsettle_simbench_<random>`` on ``MEDSETTLE_DATABASE_URL`` (default
   ``postgresql://postgres@127.0.0.1:5432/postgres``), migrated, with the demo world's
   regions, institutions, catalog and policies;
2. template histories: ``--persons`` Dongguan residents (every aid category, a special
   disease registered for a third of them) with about 25 encounters each over 2026
   (outpatient, special outpatient, inpatient, pharmacy; 5 % reversed 30 s later),
   settled one after the other with the real engine and accumulators, each stored with
   its engine input and response as the service stores them (app/engine/snapshot.py,
   app/settlement/service.render);
3. the templates cloned into N settlements (person ``<template>~<copy>``, encounter ids
   made unique) with ``INSERT … SELECT`` — every clone is a history the engine produced;
   settlement_deltas are not cloned (a full-year window has no earlier settlements to
   start from, so the replay never reads them);
4. a simulation of 441900/390 over 2026 with a draft (level-3 deductible 1000 → 800),
   run as the service runs it (``python -m app.cli simulate <id>``: a coordinator and
   2 workers), timed; the resident memory of all its processes is sampled every 0.1 s.

The last line: ``replayed N settlements in T s (R/s), peak RSS M MiB, CPU C s (load average
before: L), baseline_mismatches K`` — C is the user + system time of the simulation's
processes (coordinator and workers, not PostgreSQL's), which a busy machine does not
inflate the way it inflates T. A line before it gives the CPU of the PostgreSQL server's
processes over the same time (all of them: anything else the server does meanwhile too).

``--settle-load D``: the service keeps settling while the simulation runs (issue 17) — how
much does its throughput drop? After building, the demo world (institutions, catalog,
``--load-persons`` synthetic residents, API keys; ``app.demo.world.load_demo``) is added
to the same database and the service started on it as bench/run.py starts it (``uvicorn
app.main:create_app --factory``, one worker, pool 32), with bench/loadgen.py driving
``POST /v1/settlements`` (``--load-workload``, default the mix, at ``--load-concurrency``,
default 32) in phases of D seconds: a warm-up, ``--load-rounds`` phases with the service
alone, then phases while the simulation runs (only phases that ended before the simulation
did are counted), then ``--load-rounds`` phases alone again. ``--load-control N`` adds N
phases without any simulation after the first phases alone: how the throughput moves
with the service's own growth over the same time. The line before the last:
``settle throughput alone A/s (…), during the simulation B/s (…): −X %``. The database
then holds the service's settlements too: build a new one for each such run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import resource
import secrets
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.demo.policies import DEMO_POLICIES
from app.demo.world import CATALOG, INSTITUTIONS
from app.engine.model import (
    ACCOUNT_BALANCE,
    TOTAL_FIELDS,
    Accumulators,
    CatalogItem,
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Refusal,
    Restriction,
    SettlementContext,
    SpecialDiseaseRegistration,
)
from app.engine.policy_doc import policy_from_document
from app.engine.settle import settle
from app.engine.snapshot import payload
from app.kit.db import to_libpq_url, with_database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REGION = "441900"
CATEGORIES = (None, None, None, "extreme_poverty", "minimum_living", "registered_poor", "low_income")
# (institution, med_type, lines: (code, qty range, unit price range))
DRUGS = ["XA10BAA001A001010100", "XC08CAA001A001010100", "XC10AAA001A001010100", "XA11XXA001A001010100",
         "ZA01AAA001A001010100", "XJ01CAA001A001010100", "XB01ACA001A001010100"]  # fmt: skip
SERVICES = ["001101000010000", "250101001000000", "210300001000000", "C1402010010000001"]
INPATIENT = ["001102000010000", "331501001000000", "C0301010010000001", "311201001000000", "XN06BXA001A001010100",
             "C0705010010000001"]  # fmt: skip
PLACES = [("H44190000001", "21", 0.12), ("H44190000002", "21", 0.08), ("H44190000003", "21", 0.05),
          ("C44190000001", "11", 0.25), ("H44190000001", "11", 0.15), ("P44190000001", "41", 0.2),
          ("C44190000002", "14", 0.15)]  # fmt: skip
DIAGNOSES = ["I10", "E11.9", "I20.0", "C34.1", "J18.9", "I63.9"]


def _catalog() -> dict[str, CatalogItem]:
    """Each code's item as a Dongguan institution finds it (441900, then 440000, then national)."""
    found: dict[str, CatalogItem] = {}
    for region in ("000000", "440000", "441900"):
        for c in CATALOG:
            if c["region"] != region:
                continue
            r = c["restriction"]
            found[c["code"]] = CatalogItem(
                code=c["code"], name=c["name"], category=c["category"], self_pay_ratio=c["self_pay_ratio"],
                price_cap=c["price_cap"], region=region,
                restriction=None if r is None else Restriction(
                    med_types=tuple(r["med_types"]) if "med_types" in r else None,
                    diagnoses=tuple(r["diagnoses"]) if "diagnoses" in r else None,
                    special_diseases=tuple(r["special_diseases"]) if "special_diseases" in r else None,
                    min_level=r.get("min_level"),
                ),
            )  # fmt: skip
    return found


def _lines(rng: random.Random, med_type: str) -> tuple[FeeLine, ...]:
    pool = INPATIENT + SERVICES + DRUGS if med_type == "21" else SERVICES + DRUGS
    count = rng.randint(4, 12) if med_type == "21" else rng.randint(1, 6)
    lines = []
    for n, code in enumerate(rng.sample(pool, min(count, len(pool))), start=1):
        price = Decimal(rng.randint(100, 400000 if code in INPATIENT else 30000)) / 100
        lines.append(FeeLine(n, code, Decimal(rng.randint(1, 5)), price))
    return tuple(lines)


def templates(persons: int, per_person: int, seed: int = 2026) -> list[tuple]:
    """Rows of the settlements table for `persons` template histories (see the module doc)."""
    from app.settlement.rendering import render

    rng = random.Random(seed)
    policy = policy_from_document(next(d for d in DEMO_POLICIES if d["region"] == REGION and d["insutype"] == "390"))
    institutions = {c: Institution(c, k, lv, r, a) for c, _, k, lv, r, a in INSTITUTIONS}
    catalog = _catalog()
    rows: list[tuple] = []
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    for p in range(persons):
        pid = f"B{p:06d}"
        person = Person(pid, REGION, (Enrollment("390", dt.date(2020, 1, 1)),),
                        aid_category=CATEGORIES[p % len(CATEGORIES)])  # fmt: skip
        registrations = (
            (SpecialDiseaseRegistration("M03900", dt.date(2026, 1, 1), dt.date(2026, 12, 31), None),) if p % 3 == 0 else ()
        )
        acc: dict[str, Decimal] = {}
        days = sorted(rng.randint(0, 363) for _ in range(max(1, int(rng.gauss(per_person, per_person / 3)))))
        for n, day in enumerate(days):
            inst_code, med_type, _ = rng.choices(PLACES, weights=[w for *_, w in PLACES])[0]
            if med_type == "14" and not registrations:
                med_type = "11"
            encounter = Encounter(
                med_type=med_type, encounter_date=dt.date(2026, 1, 1) + dt.timedelta(days=day),
                lines=_lines(rng, med_type), diagnoses=(rng.choice(DIAGNOSES),),
                special_disease="M03900" if med_type == "14" else None,
            )  # fmt: skip
            inst = institutions[inst_code]
            ctx = SettlementContext(person, inst, policy, {l.code: catalog.get(l.code) for l in encounter.lines},
                                    Accumulators(dict(acc)), registrations)  # fmt: skip
            result = settle(encounter, ctx)
            if isinstance(result, Refusal):
                continue
            settled_at = start + dt.timedelta(days=day, hours=8, minutes=n)  # in the order computed
            reversed_at = None
            if rng.random() < 0.05:
                reversed_at = settled_at + dt.timedelta(seconds=30)  # before the next one
            else:
                for name, amount in result.deltas.items():
                    if name != ACCOUNT_BALANCE:
                        acc[name] = acc.get(name, Decimal(0)) + amount
            sid = uuid.uuid4()
            body = render(result, settlement_id=sid, status="settled", institution_code=inst_code, person_id=pid,
                          encounter_id=f"T{p}-{n}", encounter_date=encounter.encounter_date, settled_at=settled_at)  # fmt: skip
            t = result.totals
            rows.append((
                sid, inst_code, pid, f"T{p}-{n}", "390", med_type, encounter.encounter_date, 2026, REGION, "390",
                dt.date(2026, 1, 1), result.cross_region, "reversed" if reversed_at else "settled", settled_at,
                reversed_at, *[getattr(t, f) for f in TOTAL_FIELDS], body,
                orjson.dumps(payload(encounter, ctx), default=str),
            ))  # fmt: skip
    return rows


COLUMNS = [
    "settlement_id", "institution_code", "person_id", "encounter_id", "insutype", "med_type", "encounter_date",
    "accumulation_year", "policy_region", "policy_insutype", "policy_effective_from", "cross_region", "status",
    "settled_at", "reversed_at", *TOTAL_FIELDS, "response", "engine_input",
]  # fmt: skip


async def build(dsn: str, args: argparse.Namespace) -> tuple[int, float]:
    from app.kit.migrate import upgrade_head_async

    await upgrade_head_async(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany("INSERT INTO regions (code, name) VALUES ($1::text, $1::text)", [(r,) for r in ("441900", "440000")])
        for d in DEMO_POLICIES:
            await conn.execute(
                "INSERT INTO policies (region, insutype, effective_from, document, in_use)"
                " VALUES ($1, $2, $3::text::date, $4::jsonb, true) ON CONFLICT DO NOTHING",
                d["region"], d["insutype"], d["effective_from"], orjson.dumps(d).decode(),
            )  # fmt: skip
        t0 = time.perf_counter()
        rows = templates(args.persons, args.per_person)
        gen = time.perf_counter() - t0
        print(f"templates: {len(rows)} settlements of {args.persons} persons in {gen:.1f} s", flush=True)
        await conn.execute("CREATE TEMP TABLE tpl (LIKE settlements INCLUDING DEFAULTS)")
        records = [r[:-2] + (r[-2], r[-1]) for r in rows]
        await conn.copy_records_to_table("tpl", records=records, columns=COLUMNS)
        copies = max(1, -(-args.settlements // len(rows)))
        t0 = time.perf_counter()
        cols = ", ".join(COLUMNS)
        select = ", ".join(
            {"settlement_id": "gen_random_uuid()", "person_id": "t.person_id || '~' || g",
             "encounter_id": "t.encounter_id || '~' || g"}.get(c, f"t.{c}") for c in COLUMNS
        )  # fmt: skip
        for first in range(0, copies, args.batch_copies):
            last = min(copies, first + args.batch_copies) - 1
            await conn.execute(
                f"INSERT INTO settlements ({cols}) SELECT {select} FROM tpl t, generate_series($1::int, $2::int) g",
                first, last,
            )
            print(f"  cloned copies {first}..{last}", flush=True)
        await conn.execute("VACUUM ANALYZE settlements")
        total = await conn.fetchval("SELECT count(*) FROM settlements")
        print(f"stored {total} settlements in {time.perf_counter() - t0:.1f} s", flush=True)
        return total, gen
    finally:
        await conn.close()


async def queue(dsn: str) -> uuid.UUID:
    draft = orjson.loads(orjson.dumps(next(d for d in DEMO_POLICIES if d["region"] == REGION and d["insutype"] == "390")))
    draft["basic"]["rules"][0]["deductible"] = "800"
    conn = await asyncpg.connect(dsn)
    try:
        sid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO simulations (simulation_id, region, insutype, date_from, date_to, draft, status)"
            " VALUES ($1, $2, '390', '2026-01-01', '2026-12-31', $3::jsonb, 'queued')",
            sid, REGION, orjson.dumps(draft).decode(),
        )  # fmt: skip
        return sid
    finally:
        await conn.close()


#: CPU seconds of the PostgreSQL server (all its processes) during the last run_simulation.
PG_CPU: list[float] = []


def run_simulation(dsn: str, sid: uuid.UUID, parts: int) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) of all simulation processes together, their CPU seconds.
    The server's CPU over the same time goes to `PG_CPU` (when the server is local)."""
    from bench.run import find_postmaster, postgres_cpu_seconds

    env = {**os.environ, "MEDSETTLE_DATABASE_URL": dsn, "PYTHONPATH": str(ROOT)}
    postmaster = find_postmaster(dsn)
    pg0 = postgres_cpu_seconds(postmaster) if postmaster else 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "simulate", str(sid), "--parts", str(parts)],
                            env=env, cwd=ROOT)  # fmt: skip
    top = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = top.memory_info().rss + sum(c.memory_info().rss for c in top.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"simulation exited with {proc.returncode}")
    # The coordinator waited for its workers, so their CPU time is in its children's.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    PG_CPU[:] = [postgres_cpu_seconds(postmaster) - pg0] if postmaster else []
    return elapsed, peak / 2**20, cpu


async def add_demo_world(dsn: str, persons: int) -> None:
    """The demo world on the benchmark's database (idempotent: the regions and policies
    already there are kept), for the service to settle on."""
    from app.demo.world import load_demo
    from app.kit.db import create_engine

    engine = create_engine(dsn)
    try:
        async with engine.begin() as conn:
            await load_demo(conn, persons=persons)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")  # the build's writes flushed before any phase is measured
    finally:
        await conn.close()


def _mean(phases: list[dict]) -> float:
    return sum(p["throughput"] for p in phases) / len(phases) if phases else float("nan")


def _phases_text(phases: list[dict]) -> str:
    return ", ".join(f"{p['throughput']:.0f}" for p in phases)


def with_settle_load(dsn: str, args: argparse.Namespace) -> tuple[uuid.UUID, float, float, float, dict]:
    """The simulation while the service settles (see the module doc): run_simulation's
    figures and the service's throughput alone and during."""
    import tempfile
    import threading

    from bench.run import LoadGen, cpu_seconds, start_uvicorn, stop, wait_http

    t0 = time.perf_counter()
    asyncio.run(add_demo_world(dsn, args.load_persons))
    print(f"demo world with {args.load_persons} synthetic persons added in {time.perf_counter() - t0:.1f} s", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="medsettle-simload-"))
    env = {
        **os.environ, "MEDSETTLE_DATABASE_URL": dsn, "MEDSETTLE_LOG_LEVEL": "WARNING", "MEDSETTLE_DB_POOL_SIZE": "32",
        "MEDSETTLE_DB_MAX_OVERFLOW": "8", "MEDSETTLE_DATA_DIR": str(workdir / "data"),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }  # fmt: skip
    env.pop("MEDSETTLE_BOOTSTRAP_ADMIN_KEY", None)
    service = loadgen = None
    try:
        service = start_uvicorn("service", "app.main:create_app", env, "/v1/settlements", workdir)
        wait_http(f"http://127.0.0.1:{service.port}/readyz", service.proc, 60, service.logfile)
        loadgen = LoadGen(workdir, env)
        loadgen.call(
            300, op="init", persons=args.load_persons, templates=500, seed=20261202, tag=secrets.token_hex(3),
            host="127.0.0.1", urls=[service.url],
        )  # fmt: skip

        def phase(label: str) -> dict:
            cpu0 = cpu_seconds(service.proc.pid)
            r = loadgen.call(
                args.settle_load + 120, url=service.url, workload=args.load_workload,
                concurrency=args.load_concurrency, duration=args.settle_load,
            )  # fmt: skip
            r["service_cpu_s"] = cpu_seconds(service.proc.pid) - cpu0
            print(
                f"  {label:<7} {r['throughput']:7.1f}/s  p50 {r['p50']:6.1f}  p99 {r['p99']:7.1f} ms  "
                f"errors {r['errors']}  service CPU {r['service_cpu_s'] / args.settle_load:.0%}",
                flush=True,
            )
            if r["errors"]:
                raise SystemExit(f"the service answered errors: {r.get('error_samples')}")
            return r

        phase("warm-up")
        alone = [phase("alone") for _ in range(args.load_rounds)]
        control = [phase("control") for _ in range(args.load_control)]
        # Queued only now: the service fails simulations left queued or running when it starts.
        sid = asyncio.run(queue(dsn))
        done: dict = {}
        thread = threading.Thread(target=lambda: done.update(figures=run_simulation(dsn, sid, args.parts)))
        thread.start()
        during: list[dict] = []
        while thread.is_alive():
            r = phase("during")
            if thread.is_alive():
                during.append(r)
            else:
                print("  (the simulation ended during that phase: not counted)", flush=True)
        thread.join()
        if "figures" not in done:
            raise SystemExit("the simulation did not finish")
        alone += [phase("alone") for _ in range(args.load_rounds)]
        a, d = _mean(alone), _mean(during)
        load = {
            "alone": a, "during": d, "drop_percent": (a - d) / a * 100 if during else float("nan"),
            "alone_phases": _phases_text(alone), "during_phases": _phases_text(during),
            "control": _mean(control), "control_phases": _phases_text(control),
            "p99_alone": max(p["p99"] for p in alone), "p99_during": max((p["p99"] for p in during), default=float("nan")),
        }  # fmt: skip
        elapsed, peak, cpu = done["figures"]
        return sid, elapsed, peak, cpu, load
    finally:
        if loadgen is not None:
            loadgen.close()
        stop(service.proc if service is not None else None)


async def outcome(dsn: str, sid: uuid.UUID) -> dict:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT status, error, replayed, result::text AS result FROM simulations WHERE simulation_id = $1", sid)
        out = dict(row)
        out["result"] = orjson.loads(row["result"]) if row["result"] else None
        return out
    finally:
        await conn.close()


async def draft_reused(dsn: str, sid: uuid.UUID) -> int | None:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT sum((partial::json->>'draft_reused')::bigint) FROM simulation_parts WHERE simulation_id = $1", sid
        )
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settlements", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=2000, help="template persons")
    parser.add_argument("--per-person", type=int, default=25, help="mean encounters a template person has")
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--batch-copies", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--database", default=None, help="reuse this existing benchmark database (skip building)")
    parser.add_argument("--settle-load", type=float, default=0, metavar="D",
                        help="drive the service with settlements in phases of D s, alone and while the simulation runs")
    parser.add_argument("--load-rounds", type=int, default=2, help="phases alone before and after the simulation")
    parser.add_argument("--load-concurrency", type=int, default=32)
    parser.add_argument("--load-workload", default="mix")
    parser.add_argument("--load-persons", type=int, default=10_000)
    parser.add_argument("--load-control", type=int, default=0, metavar="N",
                        help="with --settle-load: first N phases without the simulation after the phases alone "
                             "(a control: how the throughput moves without any simulation)")
    args = parser.parse_args()
    server = to_libpq_url(os.environ.get("MEDSETTLE_DATABASE_URL", DEFAULT_URL))
    name = args.database or f"medsettle_simbench_{secrets.token_hex(4)}"
    dsn = with_database(server, name)

    async def create() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    if args.database is None:
        asyncio.run(create())
    try:
        if args.database is None:
            asyncio.run(build(dsn, args))
        load = os.getloadavg()[0]
        settle_load = None
        if args.settle_load:
            sid, elapsed, peak, cpu, settle_load = with_settle_load(dsn, args)
        else:
            sid = asyncio.run(queue(dsn))
            elapsed, peak, cpu = run_simulation(dsn, sid, args.parts)
        out = asyncio.run(outcome(dsn, sid))
        if out["status"] != "done":
            raise SystemExit(f"simulation {out['status']}: {out['error']}")
        result = out["result"]
        basic = next(f for f in result["funds"] if f["fund"] == "basic")
        print(f"basic fund: baseline {basic['baseline']}, draft {basic['draft']} ({basic['percent']} %)")
        if PG_CPU:
            print(f"PostgreSQL server CPU (all its processes) during the simulation: {PG_CPU[0]:.1f} s")
        reused = asyncio.run(draft_reused(dsn, sid))
        print(f"draft runs that took the baseline's result: {reused} of {out['replayed']}")
        if settle_load is not None and args.load_control:
            print(f"control (no simulation, after the first phases alone): {settle_load['control']:.1f}/s "
                  f"(phases {settle_load['control_phases']})")
        if settle_load is not None:
            print(
                f"settle throughput ({args.load_workload}, c={args.load_concurrency}) alone {settle_load['alone']:.1f}/s "
                f"(phases {settle_load['alone_phases']}; worst p99 {settle_load['p99_alone']:.1f} ms), during the "
                f"simulation {settle_load['during']:.1f}/s (phases {settle_load['during_phases']}; worst p99 "
                f"{settle_load['p99_during']:.1f} ms): {-settle_load['drop_percent']:+.0f} %",
                flush=True,
            )
        print(
            f"replayed {out['replayed']} settlements in {elapsed:.1f} s ({out['replayed'] / elapsed:.0f}/s), "
            f"peak RSS {peak:.0f} MiB, CPU {cpu:.1f} s (load average before: {load:.1f}), "
            f"baseline_mismatches {result['baseline_mismatches']}",
            flush=True,
        )
        return 0
    finally:
        if not args.keep and args.database is None:
            asyncio.run(drop())
        elif args.database is None:
            print(f"kept database {name}")


if __name__ == "__main__":
    sys.exit(main())
