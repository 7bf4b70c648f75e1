"""Contribution tiers 缴费档次 (seed 002): the person's tier on the encounter date picks the
tiered amount before the engine runs. M07900's annual limit is {"1": "1500", "2": "3000"};
`14` pays 90 % with no deductible (tests/chronic/world.py)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.chronic.world import H2S, SN, add_person, add_registration, inpatient, special, suining_policy
from tests.helpers import problem
from tests.world import accumulators

pytestmark = pytest.mark.asyncio


async def settle(client, body):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": body["encounter_id"]})


def money(r, *names):
    t = r.json()["totals"]
    return tuple(t[n] for n in names)


async def poor(world, person_id, tiers):
    await add_person(world, person_id, aid_category="registered_poor", tiers=tiers)
    await add_registration(world, person_id, "M07900", [H2S])


async def test_tier_1_limit_1500_crossed_inside_one_encounter(world, inst, ops):
    await poor(world, "T1", (("2020-01-01", None, 1),))
    h2 = await inst(H2S)
    # 2000.00 in scope × 90 % = 1800.00, above the tier-1 room 1500.00:
    # basic_fund 1500.00, over_cap 300.00, pool_self_pay 200.00, cash 200.00 + 300.00 = 500.00.
    r = await settle(h2, special("T1", "M07900", "2000.00", encounter_id="E1"))
    assert r.status_code == 201, r.text
    assert money(r, "in_scope", "basic_fund", "over_cap", "pool_self_pay", "cash") == (
        "2000.00", "1500.00", "300.00", "200.00", "500.00")
    assert await accumulators(world, "T1") == {"basic_paid": D("1500.00"), "disease:M07900": D("1500.00")}
    # The person view and the accumulators show the tier.
    view = (await ops.get("/v1/persons/T1", params={"date": "2026-03-10"})).json()
    assert [(e["insutype"], e["tier"]) for e in view["enrollments"]] == [("390", 1)]
    acc = (await ops.get("/v1/persons/T1/accumulators", params={"year": 2026})).json()
    assert acc["tier"] == 1 and acc["disease"] == {"M07900": "1500.00"}


async def test_tier_2_limit_3000_crossed_inside_one_encounter(world, inst):
    await poor(world, "T2", (("2020-01-01", None, 2),))
    h2 = await inst(H2S)
    # 4000.00 × 90 % = 3600.00 > 3000.00: fund 3000.00, over_cap 600.00, pool 400.00, cash 1000.00.
    r = await settle(h2, special("T2", "M07900", "4000.00", encounter_id="E1"))
    assert r.status_code == 201, r.text
    assert money(r, "basic_fund", "over_cap", "pool_self_pay", "cash") == ("3000.00", "600.00", "400.00", "1000.00")
    # The limit is used up: 100.00 × 90 % = 90.00 is all over the limit; cash 100.00.
    r = await settle(h2, special("T2", "M07900", "100.00", encounter_id="E2"))
    assert money(r, "basic_fund", "over_cap", "cash") == ("0.00", "90.00", "100.00")


async def test_change_of_tier_mid_year(world, inst, ops):
    # Tier 1 until 30 June, tier 2 from 1 July (a new enrollment from the change date).
    await poor(world, "T12", (("2020-01-01", "2026-06-30", 1), ("2026-07-01", None, 2)))
    h2 = await inst(H2S)
    # March, tier 1: 2000.00 × 90 % = 1800.00 → 1500.00 (room 1500.00).
    r = await settle(h2, special("T12", "M07900", "2000.00", encounter_id="E1", date="2026-03-10"))
    assert money(r, "basic_fund", "over_cap") == ("1500.00", "300.00")
    # August, tier 2: room 3000.00 − 1500.00 = 1500.00; 1800.00 → 1500.00, over 300.00.
    r = await settle(h2, special("T12", "M07900", "2000.00", encounter_id="E2", date="2026-08-10"))
    assert money(r, "basic_fund", "over_cap") == ("1500.00", "300.00")
    assert (await accumulators(world, "T12"))["disease:M07900"] == D("3000.00")
    acc = (await ops.get("/v1/persons/T12/accumulators", params={"year": 2026})).json()
    assert acc["tier"] == 2  # the enrollment in force at the year's end (or today)


async def test_missing_tier_is_tier_not_covered(world, inst):
    await poor(world, "T0", (("2020-01-01", None, None),))  # no tier
    await poor(world, "T3", (("2020-01-01", None, 3),))  # a tier the map lacks
    await add_person(world, "U0", aid_category="registered_poor")  # no tier, no registration
    h2 = await inst(H2S)
    problem(await settle(h2, special("T0", "M07900", "100.00", encounter_id="E1")), 422, "tier_not_covered")
    problem(await settle(h2, special("T3", "M07900", "100.00", encounter_id="E2")), 422, "tier_not_covered")
    r = await h2.post("/v1/settlements/preview", json=special("T0", "M07900", "100.00", encounter_id="E3"))
    problem(r, 422, "tier_not_covered")
    # §7 order: special_disease_not_registered comes before tier_not_covered.
    problem(await settle(h2, special("U0", "M07900", "100.00", encounter_id="E4")), 422, "special_disease_not_registered")
    # An encounter that needs no tiered amount settles: inpatient 1500.00, deductible 500.00,
    # 1000.00 × 80 % = 800.00 fund; cash 700.00.
    r = await settle(h2, inpatient("T0", "1500.00", encounter_id="E5", date="2026-03-10", diagnoses=["J44.1"]))
    assert r.status_code == 201, r.text
    assert money(r, "deductible", "basic_fund", "cash") == ("500.00", "800.00", "700.00")
    assert await world.fetchval("SELECT count(*) FROM settlements") == 1


async def test_tiered_annual_cap_is_needed_by_every_encounter_a_rule_matches(world, inst, admin_client):
    doc = suining_policy()
    doc["effective_from"] = "2026-09-01"
    doc["basic"]["annual_cap"] = {"1": "1000", "2": "2000"}
    r = await admin_client.put(f"/v1/policies/{SN}/390/2026-09-01", json=doc)
    assert r.status_code == 201, r.text
    await add_person(world, "C0")
    await add_person(world, "C1", tiers=(("2020-01-01", None, 1),))
    h2 = await inst(H2S)
    body = inpatient("C0", "3000.00", encounter_id="E1", date="2026-09-10", diagnoses=[])
    problem(await settle(h2, body), 422, "tier_not_covered")
    # Tier 1: 3000.00 − 500.00 = 2500.00 × 80 % = 2000.00, capped at 1000.00; over_cap 1000.00.
    r = await settle(h2, {**body, "person_id": "C1", "encounter_id": "E2"})
    assert r.status_code == 201, r.text
    assert money(r, "basic_fund", "over_cap", "cash") == ("1000.00", "1000.00", "2000.00")


async def test_policy_with_tier_maps_of_different_keys_is_refused(world, admin_client):
    doc = suining_policy()
    doc["effective_from"] = "2026-10-01"
    doc["basic"]["annual_cap"] = {"1": "100000", "2": "200000", "3": "300000"}
    body = problem(await admin_client.put(f"/v1/policies/{SN}/390/2026-10-01", json=doc), 422, "policy_invalid")
    assert body["errors"][0]["loc"] == ["body", "special_diseases", "M07900", "annual_limit"]
    doc["basic"]["annual_cap"] = {"1": "100000", "2": "200000"}
    assert (await admin_client.put(f"/v1/policies/{SN}/390/2026-10-01", json=doc)).status_code == 201
    # A tier map needs a key of the form 1..99 and an amount.
    doc["basic"]["annual_cap"] = {"one": "100000"}
    problem(await admin_client.put(f"/v1/policies/{SN}/390/2026-10-01", json=doc), 422, "policy_invalid")
    # Forms of certified_by may not be combined.
    doc["basic"]["annual_cap"] = "300000"
    doc["special_diseases"]["M03900"]["certified_by"] = {"min_level": 1, "kinds": ["hospital"]}
    problem(await admin_client.put(f"/v1/policies/{SN}/390/2026-10-01", json=doc), 422, "policy_invalid")


async def test_put_person_with_tiers(world, admin_client, ops):
    person = {
        "certno": "11010519491231002X", "name": "李四", "gender": "male", "birth_date": "1949-12-31",
        "insured_region": SN, "aid_category": "registered_poor", "account_balance": "0",
        "enrollments": [{"insutype": "390", "valid_from": "2026-01-01", "valid_to": "2026-06-30", "tier": 1},
                        {"insutype": "390", "valid_from": "2026-07-01", "tier": 2}],
    }  # fmt: skip
    r = await admin_client.put("/v1/persons/PT", json=person)
    assert r.status_code == 201, r.text
    assert [e["tier"] for e in r.json()["enrollments"]] == [1, 2]
    view = (await ops.get("/v1/persons/PT", params={"date": "2026-08-01"})).json()
    assert [e["tier"] for e in view["enrollments"]] == [2]
    person["enrollments"][0]["tier"] = 0
    problem(await admin_client.put("/v1/persons/PT", json=person), 422, "validation_error")
