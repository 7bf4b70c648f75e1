"""In-process CPU per settlement: the ASGI app driven directly (no HTTP, no uvicorn),
one request at a time, against a database made by ``run.py --keep-db``.

    python bench/inproc.py postgresql://…/medsettle_bench_xxx [--kind outpatient] [-n 3000] [--profile]
    python bench/inproc.py postgresql://…/medsettle_bench_xxx --kind pharmacy,pharmacy_code -n 4000

Kinds: those of bench/loadgen.py (outpatient, inpatient, pharmacy, pharmacy_code; for
pharmacy_code every request's e-voucher code is issued first). Several kinds take turns
of ``--batch`` settlements, so that a drift of the machine's speed falls on each alike.

Prints the service's CPU per settlement (process time / settlements) and the WAL the
server wrote per settlement (pg_stat_wal; ``--checkpoint`` starts the run just after one). It isolates
what the app itself costs per request from the HTTP server and the event loop's
queueing; `--profile` adds a cProfile table of the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import datetime as dt
import os
import pstats
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import build_templates, voucher_code  # noqa: E402


def postgres_cpu(postmaster: int | None = None) -> float:
    """CPU seconds of the processes named postgres on this machine (server-side cost): with
    ``postmaster``, only that server's (itself and its children), so that another server on
    the machine does not count."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)
            if not fields[0].endswith("(postgres"):
                continue
            parts = fields[1].split()
            if postmaster is not None and int(pid) != postmaster and int(parts[1]) != postmaster:
                continue
            total += (int(parts[11]) + int(parts[12])) / tick
        except (OSError, IndexError):
            continue
    return total


async def postmaster_of(url: str) -> int | None:
    """The postmaster's pid of the server at ``url`` (the parent of a backend's process)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await conn.close()
    try:
        with open(f"/proc/{backend}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--kind", default="outpatient", help="a kind, or several separated by commas")
    parser.add_argument("-n", type=int, default=3000, help="settlements per kind")
    parser.add_argument("--batch", type=int, default=100, help="several kinds: settlements per turn")
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--checkpoint", action="store_true", help="CHECKPOINT after the warm-up")
    args = parser.parse_args()
    kinds = args.kind.split(",")
    postmaster = await postmaster_of(args.url)
    os.environ["MEDSETTLE_DATABASE_URL"] = args.url
    os.environ.setdefault("MEDSETTLE_LOG_LEVEL", "WARNING")
    from app.main import create_app

    app = create_app()
    all_templates = build_templates(
        300, args.persons, seed=7, host="x", path="/v1/settlements", eid_width=20, key_width=20
    )
    requests: dict[str, list[tuple[Any, ...]]] = {}
    for kind in kinds:
        requests[kind] = []
        for t in all_templates[kind]:
            head = t.head.split(b"\r\n")
            headers = []
            for line in head[1:]:
                if b": " in line and not line.endswith(b": "):
                    name, value = line.split(b": ", 1)
                    headers.append((name.lower(), value))
            requests[kind].append((headers, t.mid[4:], t.tail, t.code_mid, t.person))
    run_tag = uuid.uuid4().hex[:8]
    codes = itertools.count()  # each request its own code, issued below

    def code_of(i: int) -> bytes:
        return voucher_code(f"{run_tag}{i:010d}".encode())

    coded = [r for kind in kinds for r in requests[kind] if r[3] is not None]
    if coded:  # e-voucher kinds: issue every request's code first (code i is for coded[i % len])
        import asyncpg

        from app.evouchers.codes import hash_code

        conn = await asyncpg.connect(args.url)
        try:
            now = dt.datetime.now(dt.timezone.utc)
            await conn.copy_records_to_table(
                "e_vouchers",
                records=[
                    (hash_code(code_of(i).decode()), coded[i % len(coded)][4], now, now + dt.timedelta(days=1))
                    for i in range(args.n + 300)
                ],
                columns=["code_hash", "person_id", "issued_at", "expires_at"],
            )  # fmt: skip
            await conn.execute("VACUUM ANALYZE e_vouchers")
        finally:
            await conn.close()

    async def call(kind: str, i: int) -> int:
        if requests[kind][0][3] is None:
            headers, before, after, _code_mid, _person = requests[kind][i % len(requests[kind])]
            tag = uuid.uuid4().hex[:20].encode()
            body = before + tag + after
        else:
            c = next(codes)
            headers, before, after, code_mid, _person = coded[c % len(coded)]
            tag = uuid.uuid4().hex[:20].encode()
            body = before + code_of(c) + code_mid + tag + after
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/v1/settlements", "raw_path": b"/v1/settlements", "query_string": b"",
            "root_path": "", "headers": [*headers, (b"idempotency-key", tag)], "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80), "state": {},
        }
        sent = False
        status = 0

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and i == 0:
                print(message.get("body", b"")[:300])

        await app(scope, receive, send)
        return status

    async def wal() -> tuple[int, int, int]:
        """(records, full-page images, bytes) of WAL written so far by the whole server."""
        import asyncpg

        conn = await asyncpg.connect(args.url)
        try:
            row = await conn.fetchrow("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
        finally:
            await conn.close()
        return int(row[0]), int(row[1]), int(row[2])

    async with app.router.lifespan_context(app):
        for kind in kinds:
            for i in range(300 // len(kinds)):  # warm caches and prepared statements
                await call(kind, i)
        if args.checkpoint:  # every run starts one checkpoint behind: comparable full-page images
            import asyncpg

            conn = await asyncpg.connect(args.url)
            try:
                await conn.execute("CHECKPOINT")
            finally:
                await conn.close()
        # Several kinds take turns of --batch settlements, so that the machine's drift (a
        # busy neighbour, a frequency change) falls on every kind alike; each kind's CPU,
        # PostgreSQL's and WAL are summed over its own turns only.
        batch = args.n if len(kinds) == 1 else args.batch
        totals = {kind: [0.0, 0.0, 0.0, 0, 0, 0] for kind in kinds}  # cpu, pg, wall, records, fpi, bytes
        statuses: dict[str, dict[int, int]] = {kind: {} for kind in kinds}
        prof = cProfile.Profile() if args.profile else None
        done = 0
        while done < args.n:
            for kind in kinds:
                w0 = await wal()
                pg0 = postgres_cpu(postmaster)
                wall, cpu = time.perf_counter(), time.process_time()
                if prof:
                    prof.enable()
                for i in range(done, min(done + batch, args.n)):
                    s = await call(kind, i)
                    statuses[kind][s] = statuses[kind].get(s, 0) + 1
                if prof:
                    prof.disable()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                pg = postgres_cpu(postmaster) - pg0
                w1 = await wal()
                t = totals[kind]
                t[0] += cpu
                t[1] += pg
                t[2] += wall
                for j in range(3):
                    t[3 + j] += w1[j] - w0[j]
            done += batch
        for kind in kinds:
            cpu, pg, wall, records, fpi, wal_bytes = totals[kind]
            n = args.n
            print(f"{kind}: {n} requests {statuses[kind]}; CPU {cpu / n * 1e6:.0f} µs/settlement, "
                  f"PostgreSQL {pg / n * 1e6:.0f} µs, wall {wall / n * 1e6:.0f} µs; "
                  f"WAL {wal_bytes / n:.0f} bytes, {records / n:.1f} records, {fpi / n:.2f} full-page images")
        from app.settlement.metrics import PATHS

        paths = {
            f"{s.labels['path']}/{s.labels['reason']}": int(s.value)
            for metric in PATHS.collect() for s in metric.samples if s.name.endswith("_total") and s.value
        }
        print(f"paths (warm-up included): {paths}")
        if prof and os.environ.get("PROFILE_OUT"):
            prof.dump_stats(os.environ["PROFILE_OUT"])  # for pstats' callers and callees
        if prof:
            pstats.Stats(prof).sort_stats(os.environ.get("SORT", "tottime")).print_stats(int(os.environ.get("TOP", "35")))


if __name__ == "__main__":
    import uvloop

    uvloop.install()
    asyncio.run(main())
