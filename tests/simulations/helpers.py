"""Helpers of the simulation tests: start a simulation over HTTP and wait for its result."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from tests.world import dongguan_resident_policy


async def simulate(ops: Any, draft: dict[str, Any], *, region: str = "441900", insutype: str = "390",
                   date_from: str = "2026-01-01", date_to: str = "2026-12-31", timeout: float = 600) -> dict[str, Any]:
    """POST /v1/simulations, poll its status until done, return the JSON result."""
    created = await ops.post("/v1/simulations", json={
        "region": region, "insutype": insutype, "date_from": date_from, "date_to": date_to, "draft": draft,
        "name": "test",
    })
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "queued"
    sid = created.json()["simulation_id"]
    deadline = time.monotonic() + timeout
    while True:
        status = await ops.get(f"/v1/simulations/{sid}")
        assert status.status_code == 200, status.text
        body = status.json()
        if body["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, f"simulation still {body['status']}"
        await asyncio.sleep(0.2)
    assert body["status"] == "done", body
    assert body["progress"] == "1.00" and body["replayed"] == body["total"] and body["error"] is None
    result = await ops.get(f"/v1/simulations/{sid}/result")
    assert result.status_code == 200, result.text
    out = result.json()
    out["_id"] = sid
    return out


def policy(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Dongguan resident policy with changes at dotted paths, e.g. ``{"basic.rules.0.ratio": "0.75"}``."""
    doc = copy.deepcopy(dongguan_resident_policy())
    for path, value in (changes or {}).items():
        node = doc
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return doc


def fund(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in result["funds"] if f["fund"] == name)
