"""Settlements and reversals at chosen times, over HTTP (shared by the reconciliation,
report and dashboard tests). Time is moved with ``app.state.clock`` (app.kit.clock)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from tests.settlement.world import encounter

CST = dt.timezone(dt.timedelta(hours=8))
_keys = itertools.count(1)


def at(day: str, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A +08:00 instant on ``day`` (YYYY-MM-DD)."""
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=CST)


async def settle_at(app: Any, client: Any, when: dt.datetime, body: dict[str, Any]) -> dict[str, Any]:
    """Settle ``body`` with the service's clock at ``when``; the settlement (201) as JSON."""
    body = dict(body)
    body.setdefault("encounter_date", when.date().isoformat())
    app.state.clock = lambda: when
    try:
        r = await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": f"rk-{next(_keys)}"})
    finally:
        app.state.clock = None
    assert r.status_code == 201, r.text
    return r.json()


async def reverse_at(app: Any, client: Any, when: dt.datetime, settlement_id: str) -> dict[str, Any]:
    app.state.clock = lambda: when
    try:
        r = await client.post(f"/v1/settlements/{settlement_id}/reversal")
    finally:
        app.state.clock = None
    assert r.status_code == 201, r.text
    return r.json()


def inpatient(person_id: str, amount: str, encounter_id: str, **extra: Any) -> dict[str, Any]:
    """One A-category line of ``amount`` yuan, med_type 21 (at a level-3 hospital of the
    Dongguan policy: deductible 1000.00, 70 %)."""
    body = encounter(person_id, [("DRUG_A", "1", amount)], med_type="21", encounter_id=encounter_id, **extra)
    body.pop("encounter_date")
    return body


def outpatient(person_id: str, amount: str, encounter_id: str, **extra: Any) -> dict[str, Any]:
    """One A-category line, med_type 11 (community: annual deductible 100.00, 60 %)."""
    body = encounter(person_id, [("DRUG_A", "1", amount)], med_type="11", encounter_id=encounter_id, **extra)
    body.pop("encounter_date")
    return body
