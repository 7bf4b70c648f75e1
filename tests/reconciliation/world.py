"""Settlements and reversals at chosen times, over HTTP (shared by the reconciliation,
report and dashboard tests). Time is moved with ``app.state.clock`` (app.kit.clock)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from tests.world import add_person, encounter

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


async def june_world(app: Any, db: Any, hospital: Any, community: Any) -> dict[int, dict[str, Any]]:
    """The world of tests/reconciliation/test_reconciliation.py's docstring: s1…s7."""
    world = db
    await add_person(world, "A1")
    await add_person(world, "B1", insutype="310", balance="500.00")
    s = {}
    s[6] = await settle_at(app, hospital, at("2026-05-31", 23, 30), inpatient("A1", "1500.00", "E6"))
    s[1] = await settle_at(app, hospital, at("2026-06-10"), inpatient("A1", "5000.00", "E1"))
    s[2] = await settle_at(app, hospital, at("2026-06-12"), inpatient("B1", "3000.00", "E2"))
    s[3] = await settle_at(app, hospital, at("2026-06-15"), inpatient("A1", "2000.00", "E3"))
    await reverse_at(app, hospital, at("2026-06-16"), s[3]["settlement_id"])
    s[5] = await settle_at(app, community, at("2026-06-20"), outpatient("A1", "200.00", "E5"))
    s[4] = await settle_at(app, hospital, at("2026-06-28"), inpatient("A1", "4000.00", "E4"))
    s[7] = await settle_at(app, hospital, at("2026-07-01", 0, 10), inpatient("A1", "1200.00", "E7"))
    await reverse_at(app, hospital, at("2026-07-02"), s[4]["settlement_id"])
    # the hand-worked figures above, as the engine gave them
    got = {n: (x["totals"]["total"], x["totals"]["fund_total"], x["totals"]["personal_account"]) for n, x in s.items()}
    assert got == {
        1: ("5000.00", "2800.00", "0.00"), 2: ("3000.00", "1400.00", "500.00"), 3: ("2000.00", "700.00", "0.00"),
        4: ("4000.00", "2100.00", "0.00"), 5: ("200.00", "60.00", "0.00"), 6: ("1500.00", "350.00", "0.00"),
        7: ("1200.00", "140.00", "0.00"),
    }  # fmt: skip
    return s




async def hold_rollup_back(app: Any, db: Any) -> Any:
    """Keep automatic folds (the app's background step, reports) ten years behind, then reset
    the rollup: these tests move the service's clock into the past, which a fold assumes never
    happens (app.reports.rollup). A fold already running is waited for (its advisory lock).
    Returns the margin to restore. Tests fold explicitly when they mean to."""
    import datetime as dt

    from app.reports.rollup import FOLD_LOCK_KEY

    margin = app.state.report_fold_margin
    app.state.report_fold_margin = dt.timedelta(days=3650)
    async with db.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", FOLD_LOCK_KEY)
        await conn.execute("TRUNCATE report_daily, report_monthly, report_rollup_state")
    return margin
