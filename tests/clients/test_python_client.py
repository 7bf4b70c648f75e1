"""The Python client against the live service (uvicorn on the test database, demo world
loaded), and its retry policy against a scripted transport."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from medsettle_client import (
    AsyncMedsettleClient,
    Conflict,
    FeeLine,
    MedsettleClient,
    NotFound,
    ServiceUnavailable,
    SettlementRefused,
    SettlementRequest,
    Unauthorized,
)

from app.demo.world import demo_key
from tests.clients.test_drift import DOC

ROOT = Path(__file__).resolve().parents[2]
HOSPITAL = "H44190000001"
EMPLOYEE = "P441900000007"  # demo: employee 310, account balance 3000.00

ITEMS = [
    FeeLine(line_no=1, code="001101000010000", qty=Decimal(1), unit_price=Decimal("10.00")),  # 诊查费 A: 10.00
    FeeLine(line_no=2, code="XA11XXA001A001010100", qty=Decimal(2), unit_price=Decimal("15.00")),  # C: 30.00
]
# total 40.00; in scope 10.00 × 50 % (employee outpatient, no deductible) = basic 5.00;
# personal 35.00 from the account (3000.00), cash 0.00.


def request(encounter: str, **changes: object) -> SettlementRequest:
    fields: dict = {"person_id": EMPLOYEE, "encounter_id": encounter, "med_type": "11",
                    "encounter_date": "2026-11-20", "items": ITEMS}  # fmt: skip
    fields.update(changes)
    return SettlementRequest(**fields)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_url(database_url: str):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MEDSETTLE_DATABASE_URL": database_url,
           "MEDSETTLE_LOG_LEVEL": "WARNING", "MEDSETTLE_DB_POOL_SIZE": "4"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start: " + (proc.stderr.read().decode()[-2000:] if proc.stderr else ""))
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def hospital_client(live_url, demo_world):
    with MedsettleClient(live_url, demo_world[f"institution:{HOSPITAL}"]) as c:
        yield c


async def test_sync_client_vendor_flow(hospital_client, live_url, demo_world):
    client = hospital_client
    preview = client.preview(request("MZ-CLIENT-1"))
    assert preview.status == "preview" and preview.settlement_id is None
    assert (preview.totals.total, preview.totals.basic_fund, preview.totals.personal_account) == (
        Decimal("40.00"), Decimal("5.00"), Decimal("35.00"))  # fmt: skip

    settled = client.settle(request("MZ-CLIENT-1"), idempotency_key="client-1")
    assert settled.status == "settled" and not settled.replayed
    assert settled.totals == preview.totals
    again = client.settle(request("MZ-CLIENT-1"), idempotency_key="client-1")
    assert again.replayed and again.settlement_id == settled.settlement_id

    # a key of its own each call: a second settle of the same encounter is a conflict, with its code
    with pytest.raises(Conflict) as conflict:
        client.settle(request("MZ-CLIENT-1"))
    assert conflict.value.code == "encounter_already_settled" and conflict.value.status == 409

    got = client.get_settlement(settled.settlement_id)
    assert got.totals.fund_total == Decimal("5.00") and got.items[1].category == "C"
    page = client.list_settlements(person_id=EMPLOYEE)
    assert [s.settlement_id for s in page.items] == [settled.settlement_id] and page.next_cursor is None
    second = client.settle(request("MZ-CLIENT-3"))
    # pages of one: the iterator follows next_cursor to the end
    assert [s.settlement_id for s in client.iter_settlements(person_id=EMPLOYEE, limit=1)] == [
        settled.settlement_id, second.settlement_id]  # fmt: skip

    html = client.slip(settled.settlement_id).decode("utf-8")
    assert "一站式结算单" in html and "伍元整" in html  # fund total 5.00 in capitals
    pdf = client.slip(settled.settlement_id, format="pdf", paper="A5")
    assert pdf.startswith(b"%PDF-")

    reversed_ = client.reverse(settled.settlement_id)
    assert reversed_.status == "reversed" and reversed_.reversed_at is not None
    assert client.reverse(settled.settlement_id).status == "reversed"

    with pytest.raises(NotFound) as missing:
        client.preview(request("MZ-CLIENT-2", person_id="P000000000000"))
    assert missing.value.code == "person_not_found"
    with pytest.raises(SettlementRefused) as refused:
        client.preview(request("MZ-CLIENT-2", insutype="390"))  # an employee, not a resident
    assert refused.value.code == "not_insured" and refused.value.status == 422
    with MedsettleClient(live_url, "msk_not_a_key") as stranger, pytest.raises(Unauthorized):
        stranger.get_settlement(settled.settlement_id)


async def test_e_voucher_settles_once(hospital_client, live_url, demo_world):
    with MedsettleClient(live_url, demo_key("wallet")) as wallet:
        voucher = wallet.issue_e_voucher(EMPLOYEE)
    assert voucher.code.startswith("ev_") and voucher.expires_at.tzinfo is not None
    by_code = request("MZ-CLIENT-EV", person_id=None, e_voucher_code=voucher.code)
    settled = hospital_client.settle(by_code)
    assert settled.person_id == EMPLOYEE
    with pytest.raises(SettlementRefused) as used:
        hospital_client.settle(request("MZ-CLIENT-EV2", person_id=None, e_voucher_code=voucher.code))
    assert used.value.code == "e_voucher_used"


@pytest.mark.skipif("/v1/persons/lookup" not in DOC["paths"], reason="POST /v1/persons/lookup not in the service yet")
async def test_person_lookup(hospital_client, demo_world, db):
    certno = await db.fetchval("SELECT certno FROM persons WHERE person_id = $1", EMPLOYEE)
    person = hospital_client.lookup_person(certno=certno)
    assert person.person_id == EMPLOYEE and person.account_balance == Decimal("3000.00")
    with pytest.raises(NotFound) as missing:
        hospital_client.lookup_person(certno="110101199003070011")
    assert missing.value.code == "person_not_found"


async def test_async_client(live_url, demo_world):
    async with AsyncMedsettleClient(live_url, demo_world[f"institution:{HOSPITAL}"]) as client:
        preview = await client.preview(request("MZ-ASYNC-1"))
        settled = await client.settle(request("MZ-ASYNC-1"))
        assert settled.totals == preview.totals and settled.settlement_id is not None
        assert (await client.get_settlement(settled.settlement_id)).status == "settled"
        assert (await client.slip(settled.settlement_id, format="pdf")).startswith(b"%PDF-")
        assert (await client.list_settlements(limit=10)).items[0].settlement_id == settled.settlement_id
        assert [s.settlement_id async for s in client.iter_settlements(limit=1)] == [settled.settlement_id]
        assert (await client.reverse(settled.settlement_id)).status == "reversed"
        await client.settle(request("MZ-ASYNC-2"), idempotency_key="async-key")
        with pytest.raises(Conflict) as reused:
            await client.settle(request("MZ-ASYNC-3"), idempotency_key="async-key")  # same key, other body
        assert reused.value.code == "idempotency_key_reused"


# --------------------------------------------------------------------------- retries (no service)

SETTLED = json.loads(json.dumps(DOC["components"]["schemas"]["SettlementOut"]["example"]))


def scripted(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return answers.pop(0)

    return httpx.MockTransport(handle)


def problem(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return httpx.Response(status, json={"status": status, "code": code, "title": code, "detail": ""}, headers=headers)


def test_settle_retries_503_and_request_in_progress_with_the_same_key() -> None:
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    answers = [problem(503, "busy", "1"), problem(409, "request_in_progress"),
               httpx.Response(201, json=SETTLED)]  # fmt: skip
    with MedsettleClient("http://test", "k", transport=scripted(answers, seen), sleep=sleeps.append,
                         backoff=0.01) as client:  # fmt: skip
        result = client.settle(request("MZ-RETRY"))
    assert result.status == "settled" and len(seen) == 3
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(keys) == 1 and len(next(iter(keys))) == 36  # one generated key (a UUID), reused
    assert len({r.content for r in seen}) == 1  # the same bytes every time
    assert len(sleeps) == 2 and sleeps[0] >= 1.0  # Retry-After: 1 is honoured


def test_settle_gives_up_and_does_not_retry_other_conflicts() -> None:
    seen: list[httpx.Request] = []
    answers = [problem(503, "database_unavailable", "0")] * 3
    with MedsettleClient("http://test", "k", transport=scripted(list(answers), seen), sleep=lambda s: None,
                         max_attempts=3) as client:  # fmt: skip
        with pytest.raises(ServiceUnavailable) as error:
            client.settle(request("MZ-RETRY"), idempotency_key="fixed")
    assert error.value.code == "database_unavailable" and len(seen) == 3
    seen.clear()
    with MedsettleClient("http://test", "k", transport=scripted([problem(409, "idempotency_key_reused")], seen),
                         sleep=lambda s: None) as client:  # fmt: skip
        with pytest.raises(Conflict) as conflict:
            client.settle(request("MZ-RETRY"))
    assert conflict.value.code == "idempotency_key_reused" and len(seen) == 1


async def test_async_settle_retries_a_lost_connection() -> None:
    seen: list[httpx.Request] = []
    calls = {"n": 0}

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("no answer", request=req)
        return httpx.Response(200, json=SETTLED, headers={"Idempotent-Replayed": "true"})

    async def no_sleep(_: float) -> None:
        return None

    async with AsyncMedsettleClient("http://test", "k", transport=httpx.MockTransport(handle), sleep=no_sleep) as c:
        result = await c.settle(request("MZ-RETRY"))
    assert result.replayed and len(seen) == 2
    assert seen[0].headers["Idempotency-Key"] == seen[1].headers["Idempotency-Key"]
