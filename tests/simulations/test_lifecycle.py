"""A simulation's life: who may start one, status before the result, failures with a reason."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from app.main import create_app
from app.simulations.service import INTERRUPTED, progress_text
from tests.helpers import problem
from tests.world import H3, add_person, encounter
from tests.simulations.helpers import policy

pytestmark = pytest.mark.asyncio

BODY = {"region": "441900", "insutype": "390", "date_from": "2026-01-01", "date_to": "2026-12-31"}


async def _wait(ops, sid: str) -> dict:
    deadline = time.monotonic() + 600
    while True:
        body = (await ops.get(f"/v1/simulations/{sid}")).json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)


async def test_roles_and_unknown_ids(world, make_client):
    institution = await make_client("institution", H3)
    problem(await institution.post("/v1/simulations", json={**BODY, "draft": policy()}), 403, "forbidden")
    admin = await make_client("admin")
    r = await admin.post("/v1/simulations", json={**BODY, "draft": policy()})
    assert r.status_code == 202, r.text  # admin may do what ops may
    unknown = uuid.uuid4()
    problem(await admin.get(f"/v1/simulations/{unknown}"), 404, "simulation_not_found")
    problem(await admin.get(f"/v1/simulations/{unknown}/result"), 404, "simulation_not_found")
    problem(await admin.post("/v1/simulations", json={**BODY, "date_to": "2025-12-31", "draft": policy()}),
            422, "validation_error")  # fmt: skip
    assert (await _wait(admin, r.json()["simulation_id"]))["status"] == "done"


async def test_result_before_done_is_409(world, make_client):
    ops = await make_client("ops")
    sid = uuid.uuid4()
    await world.execute(
        "INSERT INTO simulations (simulation_id, region, insutype, date_from, date_to, draft, status, total)"
        " VALUES ($1, '441900', '390', '2026-01-01', '2026-12-31', '{}', 'queued', 10)", sid)  # fmt: skip
    status = (await ops.get(f"/v1/simulations/{sid}")).json()
    assert status == {"simulation_id": str(sid), "status": "queued", "progress": "0.00", "replayed": 0, "total": 10,
                      "error": None}  # fmt: skip
    problem(await ops.get(f"/v1/simulations/{sid}/result"), 409, "simulation_not_done")


async def test_progress_text():
    assert progress_text("running", 420, 1000) == "0.42"
    assert progress_text("running", 999, 1000) == "0.99"  # never 1.00 before it is done
    assert progress_text("running", 0, 0) == "0.00"
    assert progress_text("done", 0, 0) == "1.00"


async def test_service_start_fails_what_an_earlier_process_left(world, test_settings):
    left = [uuid.uuid4(), uuid.uuid4()]
    for sid, status in zip(left, ("queued", "running")):
        await world.execute(
            "INSERT INTO simulations (simulation_id, region, insutype, date_from, date_to, draft, status)"
            " VALUES ($1, '441900', '390', '2026-01-01', '2026-12-31', '{}', $2)", sid, status)  # fmt: skip
    app = create_app(test_settings)
    async with app.router.lifespan_context(app):
        pass
    rows = await world.fetch("SELECT status, error, finished_at FROM simulations ORDER BY simulation_id")
    assert [(r["status"], r["error"]) for r in rows] == [("failed", INTERRUPTED)] * 2
    assert all(r["finished_at"] is not None for r in rows)


async def test_a_failing_worker_fails_the_simulation_with_a_reason(world, make_client):
    hospital = await make_client("institution", H3)
    await add_person(world, "R1")
    r = await hospital.post("/v1/settlements", json=encounter("R1", [("MATERIAL_A", "1", "3000.00")]),
                            headers={"Idempotency-Key": "k"})  # fmt: skip
    assert r.status_code == 201
    # The policy that settled it disappears (only SQL can do that): the baseline cannot run.
    await world.execute("DELETE FROM policies WHERE insutype = '390'")
    ops = await make_client("ops")
    created = await ops.post("/v1/simulations", json={**BODY, "draft": policy()})
    status = await _wait(ops, created.json()["simulation_id"])
    assert status["status"] == "failed" and "worker" in status["error"]
    problem(await ops.get(f"/v1/simulations/{created.json()['simulation_id']}/result"), 409, "simulation_not_done")
