"""POST /v1/settlements is served as plain ASGI (app.kit.routing.HotRoutes → serve_settle).

It must answer exactly as a FastAPI route with the documented dependencies would: the
same checks in the same order, the same problem documents, the request id, the access
log's route template — whether the request came through the `HotRoutes` middleware or
through FastAPI's router (which reaches the same handler through `ASGIRoute`).
"""

from __future__ import annotations

import pytest

from app.settlement.router import HOT_ROUTES
from tests.helpers import problem
from tests.settlement.world import add_person, encounter

pytestmark = pytest.mark.asyncio

BODY = encounter("P001", [("DRUG_A", "1", "10.00")])


@pytest.fixture(params=["hot", "router"])
def served(request, monkeypatch):
    """Each test runs twice: through the HotRoutes middleware, and with it bypassed."""
    if request.param == "router":
        for key in list(HOT_ROUTES):
            monkeypatch.delitem(HOT_ROUTES, key)
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
