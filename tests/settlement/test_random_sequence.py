"""A seeded random year over HTTP: previews, settlements, retries and reversals for a few
persons, with the books checked after every step.

What must hold whatever the order (settlement.md §10–§11, api.md):
- a preview gives the numbers of the settlement that follows it;
- a retry with the same Idempotency-Key returns the same bytes and settles nothing more;
- the accumulators and the account balance equal the start plus the deltas of the live
  (not reversed) settlements — a reversal undoes exactly its own deltas;
- no annual cap or limit of the policy is overrun.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

import pytest

from app.kit.clock import CST
from tests.world import C1, H1, H2, H3, P1, add_person, encounter

pytestmark = pytest.mark.asyncio

LINES = [("DRUG_A", "25.00"), ("DRUG_B10", "80.00"), ("ITEM_C", "500.00"), ("SERVICE_CAP100", "120.00"),
         ("NOT_LISTED", "15.50"), ("MATERIAL_A", "3000.00"), ("DRUG_INPATIENT_ONLY", "40.00")]
PERSONS = [("R-PLAIN", "390", None, "0"), ("R-LOW", "390", "minimum_living", "0"),
           ("R-POOR", "390", "extreme_poverty", "0"), ("E-RET", "310", None, "800.00")]


async def _books(db, person_id: str) -> tuple[dict[str, D], D]:
    acc = {r["name"]: r["amount"] for r in await db.fetch(
        "SELECT name, amount FROM accumulators WHERE person_id = $1 AND year = 2026", person_id) if r["amount"] != 0}
    live = {r["name"]: r["amount"] for r in await db.fetch(
        "SELECT d.name, sum(d.amount) AS amount FROM settlement_deltas d JOIN settlements s USING (settlement_id)"
        " WHERE s.person_id = $1 AND s.status = 'settled' GROUP BY d.name", person_id) if r["amount"] != 0}
    balance = await db.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", person_id)
    return acc, live, balance


@pytest.mark.parametrize("seed", [20261123, 7, 1949])
async def test_random_year_keeps_the_books(world, make_client, seed, monkeypatch):
    # The year's encounters are all in the past (encounter dates after today are refused).
    monkeypatch.setattr(world.app.state, "clock", lambda: dt.datetime(2026, 12, 31, 23, 0, tzinfo=CST), raising=False)
    rng = random.Random(seed)
    clients = {code: await make_client("institution", code) for code in (H3, H2, H1, C1, P1)}
    start_balance = {}
    for person_id, insutype, category, balance in PERSONS:
        await add_person(world, person_id, insutype=insutype, aid_category=category, balance=balance,
                         retired=insutype == "310")
        start_balance[person_id] = D(balance)
        # 高血压 certified for the year, open to every medical institution
        await world.execute(
            "INSERT INTO special_disease_registrations (registration_id, person_id, disease_code, certifier_code,"
            " valid_from, valid_to, all_sites, sites) VALUES (gen_random_uuid(), $1, 'M03900', $2,"
            " '2026-01-01', '2026-12-31', true, '{}')", person_id, H3)
    live: list[tuple[str, str, str]] = []  # (institution, settlement_id, person)

    for step in range(60):
        person_id, insutype, _, _ = rng.choice(PERSONS)
        inst, med_type = rng.choice(
            [(H3, "21"), (H2, "21"), (H1, "21"), (C1, "11"), (P1, "41"), (H3, "11"), (H3, "14"), (C1, "14")])
        lines = [(code, str(rng.randint(1, 4)), price) for code, price in rng.sample(LINES, rng.randint(1, 5))]
        body = encounter(person_id, lines, med_type=med_type, encounter_id=f"S{step}",
                         date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                         use_personal_account=rng.random() < 0.8,
                         special_disease="M03900" if med_type == "14" else None)
        client = clients[inst]

        preview = await client.post("/v1/settlements/preview", json=body)
        assert preview.status_code == 200, preview.text
        key = {"Idempotency-Key": f"step-{step}"}
        settled = await client.post("/v1/settlements", json=body, headers=key)
        assert settled.status_code == 201, settled.text
        s = settled.json()
        assert (s["totals"], s["items"], s["funds"]) == (
            preview.json()["totals"], preview.json()["items"], preview.json()["funds"]), f"step {step}"
        if rng.random() < 0.3:  # the HIS retries
            again = await client.post("/v1/settlements", json=body, headers=key)
            assert again.status_code == 201 and again.content == settled.content
        live.append((inst, s["settlement_id"], person_id))

        if live and rng.random() < 0.25:  # a reversal of some earlier settlement
            inst_r, sid, _ = live.pop(rng.randrange(len(live)))
            r = await clients[inst_r].post(f"/v1/settlements/{sid}/reversal")
            assert r.status_code == 201, r.text

        for pid, _, _, _ in PERSONS:
            acc, deltas, balance = await _books(world, pid)
            account_delta = deltas.pop("account_balance", D("0"))
            assert acc == deltas, f"step {step}: {pid} accumulators drifted from the live deltas"
            assert balance == start_balance[pid] + account_delta >= 0, f"step {step}: {pid} balance"
            # Dongguan policy caps: basic 400000 a year, general outpatient limit 1000
            assert acc.get("basic_paid", D(0)) <= D("400000")
            assert acc.get("limit:general_outpatient", D(0)) <= D("1000")
            assert acc.get("disease:M03900", D(0)) <= D("2000")  # M03900 annual limit

    assert await world.count("settlements") == 60
    # the mix really reached the layers it is meant to exercise
    assert await world.count("settlements", "med_type = '14'") > 0
    assert await world.count("accumulators", "name = 'disease:M03900' AND amount > 0") > 0
    assert await world.count("settlements", "personal_account > 0") > 0
    assert await world.count("settlements", "medical_aid > 0") > 0
    assert await world.count("settlements", "status = 'reversed'") == await world.count("settlement_reversals")
