"""`medsettle serve --workers 2`: two real worker processes on one database. The e-voucher
failure limit holds across both, settlements near a cap keep the books exact while their
database connections are killed, and /metrics adds up both workers whichever answers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from app.evouchers.codes import new_code
from tests.world import accumulators, add_person, encounter

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 5
PURCHASE = [("DRUG_A", "1", "10.00")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _call(base: str, method: str, path: str, key: str | None = None, **kw) -> httpx.Response:
    """One request on a new connection: the kernel hands new connections to either worker."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kw.pop("headers", {}))
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        return await c.request(method, path, headers=headers, **kw)


async def _worker_pids(base: str) -> set[str]:
    text = (await _call(base, "GET", "/metrics")).text
    return set(re.findall(r'^process_resident_memory_bytes\{pid="(\d+)"\}', text, re.M))


async def _started(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if (await _call(base, "GET", "/readyz")).status_code == 200 and len(await _worker_pids(base)) == 2:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError("two workers did not start:\n" + log.read_text()[-3000:])


async def test_two_workers_share_the_limiter_the_books_and_the_metrics(community, pharmacy, world, database_url):
    # General outpatient at a community institution: 60 %, deductible met, annual limit
    # 1000 with 900.00 used: 100.00 of room left (as in test_settlement_concurrency).
    await add_person(world, "P001")
    await world.execute(
        "INSERT INTO accumulators (person_id, year, name, amount) VALUES"
        " ('P001', 2026, 'limit:general_outpatient', 900.00), ('P001', 2026, 'deductible:outpatient', 100.00),"
        " ('P001', 2026, 'basic_paid', 900.00)"
    )
    # The in-process app's own connections are never killed: only backends opened after this.
    spared = [r["pid"] for r in await world.fetch("SELECT pid FROM pg_stat_activity")]

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSETTLE_", "PROMETHEUS_"))}
    env.update(
        MEDSETTLE_DATABASE_URL=database_url,
        MEDSETTLE_E_VOUCHER_FAILURE_LIMIT=str(LIMIT),
        MEDSETTLE_LOG_LEVEL="WARNING",
        MEDSETTLE_DB_POOL_SIZE="4",
        MEDSETTLE_DB_HELD_CONNECTIONS="2",
        PYTHONPATH=str(ROOT),
    )
    log = Path(tempfile.mkstemp(prefix="medsettle-workers-", suffix=".log")[1])
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--port", str(port)],
            env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        await _started(base, proc, log)

        # ---- 1. The e-voucher failure limit holds across both workers: waves of wrong
        # codes on new connections until the limit is reached by failures (Retry-After > 1;
        # a 429 with Retry-After 1 only means attempts were in flight). Exactly LIMIT got through.
        statuses: list[str] = []
        for _wave in range(10):
            wave = await asyncio.gather(
                *(_call(base, "POST", "/v1/settlements/preview", pharmacy.key,
                        json=encounter(None, PURCHASE, med_type="41", e_voucher_code=new_code()))
                  for _ in range(8))
            )  # fmt: skip
            statuses += [r.json()["code"] for r in wave]
            if any(r.status_code == 429 and int(r.headers["retry-after"]) > 1 for r in wave):
                break
        assert statuses.count("e_voucher_invalid") == LIMIT, statuses
        assert set(statuses) == {"e_voucher_invalid", "too_many_attempts"}
        failed = await world.fetchval("SELECT count(*) FROM e_voucher_attempts WHERE failed_at IS NOT NULL")
        assert failed == LIMIT

        # ---- 2. Thirty visits near the cap from both workers while their connections are killed.
        async def killer(stop: asyncio.Event) -> int:
            killed = 0
            while not stop.is_set():
                killed += await world.fetchval(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name LIKE 'medsettle%'"
                    " AND pid <> ALL($1::int[])",
                    spared,
                )
                await asyncio.sleep(0.1)
            return killed

        def visit(n: int) -> dict:
            return encounter("P001", [("DRUG_A", "1", "100.00")], med_type="11", encounter_id=f"V{n}")

        async def settle(n: int) -> httpx.Response:
            try:
                return await _call(base, "POST", "/v1/settlements", community.key, json=visit(n),
                                   headers={"Idempotency-Key": f"visit-{n}"})  # fmt: skip
            except httpx.TransportError:  # a worker never drops a connection, but say so if it does
                raise AssertionError("connection dropped") from None

        stop = asyncio.Event()
        killing = asyncio.create_task(killer(stop))
        storm = await asyncio.gather(*(settle(n) for n in range(30)))
        stop.set()
        killed = await killing
        assert killed > 0
        seen = {r.status_code for r in storm}
        # Connection loss is 503 on every path, auth included: never a 500.
        assert seen <= {201, 409, 503}, [r.text for r in storm if r.status_code not in (201, 409, 503)]
        # The HIS retries what did not settle, with the same Idempotency-Key, until it does.
        final = {n: r for n, r in enumerate(storm) if r.status_code == 201}
        for _round in range(20):
            missing = [n for n in range(30) if n not in final]
            if not missing:
                break
            for n, r in zip(missing, await asyncio.gather(*(settle(n) for n in missing))):
                if r.status_code == 201:
                    final[n] = r
            await asyncio.sleep(0.2)
        assert len(final) == 30
        paid = sorted(D(r.json()["totals"]["basic_fund"]) for r in final.values())
        # 100.00 × 60 % = 60.00 a visit, 100.00 of room: 60.00, then 40.00, then 0.00 for the rest.
        assert sum(paid) == D("100.00") and paid[-2:] == [D("40.00"), D("60.00")]
        assert await world.fetchval("SELECT count(*) FROM settlements WHERE person_id = 'P001'") == 30
        acc = await accumulators(world, "P001")
        assert acc["limit:general_outpatient"] == D("1000.00") and acc["basic_paid"] == D("1000.00")
        deltas = await world.fetchval(
            "SELECT sum(d.amount) FROM settlement_deltas d JOIN settlements s USING (settlement_id)"
            " WHERE s.person_id = 'P001' AND d.name = 'basic_paid'"
        )
        assert deltas == D("100.00")  # 1000.00 − 900.00: every cent of the books has its settlement

        # ---- 3. /metrics adds up both workers, whichever answers.
        await asyncio.gather(*(_call(base, "GET", "/healthz") for _ in range(20)))
        for _ in range(4):
            text = (await _call(base, "GET", "/metrics")).text
            count = re.search(r'^medsettle_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$',
                              text, re.M)  # fmt: skip
            assert count and float(count.group(1)) == 20.0
            assert len(set(re.findall(r'^process_resident_memory_bytes\{pid="(\d+)"\}', text, re.M))) == 2
            assert re.search(r'^python_gc_collections_total\{generation="0",pid="\d+"\} ', text, re.M)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.unlink(missing_ok=True)
