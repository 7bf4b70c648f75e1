"""POST /v1/settlements is served by the fast route (app.settlement.fast_route) ahead of
FastAPI's router, and by the documented endpoint when the fast route is bypassed.

Both must answer exactly alike: the same checks in the same order, the same problem
documents, the request id, the access log's route template. Every test here runs both
ways; `test_both_ways_answer_byte_for_byte_alike` sends the same requests — valid ones,
replays and every refusal and validation code — both ways with a fixed clock and fixed
settlement ids, and compares status, headers and body bytes.
"""

from __future__ import annotations

import pytest

from app.settlement import fast_route
from tests.helpers import problem
from tests.world import add_person, encounter

pytestmark = pytest.mark.asyncio

BODY = encounter("P001", [("DRUG_A", "1", "10.00")])


@pytest.fixture(params=["fast", "documented"])
def served(request, monkeypatch):
    """Each test runs twice: through the fast route, and with it bypassed (the documented
    endpoint, through FastAPI's router)."""
    if request.param == "documented":
        monkeypatch.setattr(fast_route, "PATH", "/not-the-fast-route")
    return request.param


async def test_authentication_and_role_come_first(served, hospital, make_client, world):
    await add_person(world, "P001")
    anonymous = await make_client("wallet")
    r = await anonymous.post("/v1/settlements", json=BODY, headers={"Authorization": "", "Idempotency-Key": "a"})
    problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    r = await anonymous.post("/v1/settlements", json=BODY, headers={"Authorization": "Basic eDp5", "Idempotency-Key": "a"})
    problem(r, 401, "unauthorized")
    r = await anonymous.post("/v1/settlements", json=BODY, headers={"Authorization": "Bearer msk_nope", "Idempotency-Key": "a"})
    problem(r, 401, "unauthorized")
    # A wallet key is a valid key of the wrong role: 403 even without an Idempotency-Key.
    problem(await anonymous.post("/v1/settlements", json=BODY), 403, "forbidden")
    assert await world.count("settlements") == 0


async def test_idempotency_key_errors_name_the_header(served, hospital, world):
    await add_person(world, "P001")
    r = await hospital.post("/v1/settlements", json=BODY)
    doc = problem(r, 422, "validation_error")
    assert doc["errors"] == [{"loc": ["header", "Idempotency-Key"], "msg": "Field required"}]
    r = await hospital.post("/v1/settlements", json=BODY, headers={"Idempotency-Key": "x" * 129})
    doc = problem(r, 422, "validation_error")
    assert doc["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert doc["errors"][0]["msg"].startswith("String should match pattern")
    # The header is checked before the body: a bad body with a bad key is about the key.
    r = await hospital.post("/v1/settlements", content=b"{", headers={"Content-Type": "application/json"})
    problem(r, 422, "validation_error")
    assert await world.count("settlements") == 0
    assert await world.count("idempotency_keys") == 0


async def test_a_settlement_carries_the_request_id_and_is_counted_by_route(served, hospital, ops, world):
    await add_person(world, "P001")
    r = await hospital.post(
        "/v1/settlements", json=BODY, headers={"Idempotency-Key": f"rid-{served}", "X-Request-ID": "req-42"}
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "req-42"
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    metrics = (await ops.get("/metrics")).text
    assert 'medsettle_http_requests_total{method="POST",route="/v1/settlements",status="201"}' in metrics


async def test_other_methods_on_the_path_are_not_settlements(served, hospital, world):
    r = await hospital.put("/v1/settlements", json=BODY, headers={"Idempotency-Key": "m"})
    problem(r, 405, "method_not_allowed")
    assert (await hospital.get("/v1/settlements")).status_code == 200  # the list route


# --------------------------------------------------------------------------- byte for byte

def _cases(person: str) -> list[tuple[str, dict[str, str], bytes]]:
    """(name, headers, body) of requests covering every answer a settle can give before
    and after the pipeline: each is sent once per way, in this order, to a fresh world."""
    import json

    def body(**changes: object) -> bytes:
        doc = encounter(person, [("DRUG_A", "2", "10.00")], encounter_id=str(changes.pop("eid", "E1")))
        doc.update(changes)
        return json.dumps(doc, ensure_ascii=False).encode()

    key = {"Idempotency-Key": "k-1", "Content-Type": "application/json"}
    return [
        ("settled", key, body()),
        ("replayed", key, body()),
        ("key reused", key, body(eid="E2")),
        ("already settled", {**key, "Idempotency-Key": "k-2"}, body()),
        ("no key", {"Content-Type": "application/json"}, body(eid="E3")),
        ("bad key", {**key, "Idempotency-Key": "tab\tkey"}, body(eid="E3")),
        ("long key", {**key, "Idempotency-Key": "x" * 129}, body(eid="E3")),
        ("not json", {**key, "Idempotency-Key": "k-3"}, b"{"),
        ("empty", {**key, "Idempotency-Key": "k-3"}, b""),
        ("validation", {**key, "Idempotency-Key": "k-3"}, body(eid="E3", med_type="99", items=[])),
        ("extra field", {**key, "Idempotency-Key": "k-3"}, body(eid="E3", surprise=1)),
        ("both ids", {**key, "Idempotency-Key": "k-3"}, body(eid="E3", e_voucher_code="x" * 43)),
        ("other institution", {**key, "Idempotency-Key": "k-3"}, body(eid="E3", institution_code="H00000000000")),
        ("unknown person", {**key, "Idempotency-Key": "k-4"}, body(eid="E4", person_id="NOBODY")),
        ("not insured", {**key, "Idempotency-Key": "k-5"}, body(eid="E5", encounter_date="2020-01-01")),
        ("med type", {**key, "Idempotency-Key": "k-6"}, body(eid="E6", med_type="41")),
        ("bad code", {**key, "Idempotency-Key": "k-7"}, body(eid="E7", person_id=None, e_voucher_code="short")),
        ("unknown code", {**key, "Idempotency-Key": "k-8"}, body(eid="E8", person_id=None, e_voucher_code="A" * 43)),
        ("not registered", {**key, "Idempotency-Key": "k-9"}, body(eid="E9", med_type="14", special_disease="M03900")),
    ]


async def test_both_ways_answer_byte_for_byte_alike(hospital, world, app, monkeypatch):
    import datetime as dt
    import itertools
    import uuid

    from app.kit.clock import CST
    from app.settlement import service as service_module

    answers: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
    for way in ("fast", "documented"):
        # A fresh start for each way: the same person with no settlements yet.
        await world.execute(
            "TRUNCATE settlement_reversals, settlement_deltas, idempotency_keys, settlements, accumulators, persons CASCADE"
        )
        await add_person(world, "P001")
        ids = itertools.count(1)
        monkeypatch.setattr(service_module, "uuid7", lambda: uuid.UUID(int=next(ids)))
        monkeypatch.setattr(app.state, "clock", lambda: dt.datetime(2026, 3, 10, 10, 0, tzinfo=CST), raising=False)
        monkeypatch.setattr(fast_route, "PATH", "/v1/settlements" if way == "fast" else "/not-the-fast-route")
        answers[way] = []
        for name, headers, content in _cases("P001"):
            r = await hospital.post("/v1/settlements", content=content, headers={**headers, "X-Request-ID": name.replace(" ", "-")})
            kept = {k: v for k, v in r.headers.items() if k not in ("date",)}
            answers[way].append((r.status_code, kept, r.content))
    for (name, _, _), fast, documented in zip(_cases("P001"), answers["fast"], answers["documented"]):
        assert fast == documented, name
    statuses = [status for status, _, _ in answers["fast"]]
    # What each case answered (the same both ways, as checked above).
    assert statuses == [201, 201, 409, 409, 422, 422, 422, 400, 400, 422, 422, 422, 403, 404, 422, 422, 422, 422, 422]
