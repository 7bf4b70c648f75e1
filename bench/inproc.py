"""In-process CPU per settlement: the ASGI app driven directly (no HTTP, no uvicorn),
one request at a time, against a database made by ``run.py --keep-db``.

    python bench/inproc.py postgresql://…/medsettle_bench_xxx [--kind outpatient] [-n 3000] [--profile]

Kinds: those of bench/loadgen.py (outpatient, inpatient, pharmacy, pharmacy_code; for
pharmacy_code every request's e-voucher code is issued first).

Prints the service's CPU per settlement (process time / settlements). It isolates
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
    parser.add_argument("--kind", default="outpatient")
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    postmaster = await postmaster_of(args.url)
    os.environ["MEDSETTLE_DATABASE_URL"] = args.url
    os.environ.setdefault("MEDSETTLE_LOG_LEVEL", "WARNING")
    from app.main import create_app

    app = create_app()
    templates = build_templates(
        300, args.persons, seed=7, host="x", path="/v1/settlements", eid_width=20, key_width=20
    )[args.kind]
    requests = []
    for t in templates:
        head = t.head.split(b"\r\n")
        headers = []
        for line in head[1:]:
            if b": " in line and not line.endswith(b": "):
                name, value = line.split(b": ", 1)
                headers.append((name.lower(), value))
        requests.append((headers, t.mid[4:], t.tail, t.code_mid, t.person))
    run_tag = uuid.uuid4().hex[:8]
    codes = itertools.count()  # each request its own code, issued below

    def code_of(i: int) -> bytes:
        return voucher_code(f"{run_tag}{i:010d}".encode())

    if any(r[3] is not None for r in requests):  # e-voucher kinds: issue every request's code first
        import asyncpg

        from app.evouchers.codes import hash_code

        conn = await asyncpg.connect(args.url)
        try:
            await conn.copy_records_to_table(
                "e_vouchers",
                records=[
                    (hash_code(code_of(i).decode()), requests[i % len(requests)][4],
                     dt.datetime.now(dt.timezone.utc), dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
                    for i in range(args.n + 300)
                ],
                columns=["code_hash", "person_id", "issued_at", "expires_at"],
            )  # fmt: skip
            await conn.execute("VACUUM ANALYZE e_vouchers")
        finally:
            await conn.close()

    async def call(i: int) -> int:
        headers, before, after, code_mid, _person = requests[i % len(requests)]
        tag = uuid.uuid4().hex[:20].encode()
        body = before + tag + after if code_mid is None else before + code_of(next(codes)) + code_mid + tag + after
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

    async with app.router.lifespan_context(app):
        for i in range(300):  # warm caches and prepared statements
            await call(i)
        prof = cProfile.Profile() if args.profile else None
        wall, cpu, pg = time.perf_counter(), time.process_time(), postgres_cpu(postmaster)
        if prof:
            prof.enable()
        statuses: dict[int, int] = {}
        for i in range(args.n):
            s = await call(i)
            statuses[s] = statuses.get(s, 0) + 1
        if prof:
            prof.disable()
        cpu, wall, pg = time.process_time() - cpu, time.perf_counter() - wall, postgres_cpu(postmaster) - pg
        print(f"{args.kind}: {args.n} requests {statuses}; CPU {cpu / args.n * 1e6:.0f} µs/settlement, "
              f"PostgreSQL {pg / args.n * 1e6:.0f} µs, wall {wall / args.n * 1e6:.0f} µs")
        from app.settlement.metrics import PATHS

        paths = {
            f"{s.labels['path']}/{s.labels['reason']}": int(s.value)
            for metric in PATHS.collect() for s in metric.samples if s.name.endswith("_total") and s.value
        }
        print(f"paths (warm-up included): {paths}")
        if prof:
            pstats.Stats(prof).sort_stats(os.environ.get("SORT", "tottime")).print_stats(int(os.environ.get("TOP", "35")))


if __name__ == "__main__":
    import uvloop

    uvloop.install()
    asyncio.run(main())
