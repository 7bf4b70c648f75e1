"""Who may certify (certified_by), where a disease is treated (treated_by), diseases for some
persons (aid_categories): at registration and at settlement, in the order of policy.md and
settlement.md §7. Policy and institutions: tests/chronic/world.py."""

from __future__ import annotations

import pytest

from tests.chronic.world import (
    C1S, H1S, H2S, H3S, HAS, P1S, add_person, add_registration, registration, special,
)  # fmt: skip
from tests.helpers import problem

pytestmark = pytest.mark.asyncio


def url(person_id: str) -> str:
    return f"/v1/persons/{person_id}/special-disease-registrations"


async def settle(client, body):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": body["encounter_id"]})


async def test_certified_by_each_form(world, inst):
    await add_person(world, "R1")
    await add_person(world, "R2")
    c1, h1, h2, h3, ha, p1 = [await inst(c) for c in (C1S, H1S, H2S, H3S, HAS, P1S)]

    # {"min_level": 1} (M03900): a community institution (level 1) may certify; a pharmacy never.
    r = await c1.post(url("R1"), json=registration("M03900", [C1S]))
    assert r.status_code == 201, r.text
    assert r.json()["certifier_code"] == C1S
    problem(await p1.post(url("R2"), json=registration("M03900", [C1S])), 403, "certifier_not_allowed")

    # {"min_level": 2} (M00500): community (1) and a level-1 hospital are refused, level 2 may.
    problem(await c1.post(url("R1"), json=registration("M00500", [H2S])), 422, "certifier_not_allowed")
    problem(await h1.post(url("R1"), json=registration("M00500", [H2S])), 422, "certifier_not_allowed")
    r = await h2.post(url("R1"), json=registration("M00500", [H2S]))
    assert r.status_code == 201, r.text

    # {"institutions": [HAS]} (M02300): a level-3 hospital that is not designated is refused.
    problem(await h3.post(url("R2"), json=registration("M02300", [HAS])), 422, "certifier_not_allowed")
    r = await ha.post(url("R2"), json=registration("M02300", [HAS]))
    assert r.status_code == 201 and r.json()["sites"] == [HAS], r.text
    rows = await world.fetch("SELECT person_id, disease_code FROM special_disease_registrations ORDER BY 1, 2")
    assert [(r["person_id"], r["disease_code"]) for r in rows] == [
        ("R1", "M00500"), ("R1", "M03900"), ("R2", "M02300")
    ]


async def test_treated_by_at_registration(world, inst):
    await add_person(world, "R1")
    h2, ha = await inst(H2S), await inst(HAS)
    # M02300 treated only at HAS: naming H2S (alone or beside HAS) is refused.
    problem(await ha.post(url("R1"), json=registration("M02300", [H2S])), 422, "site_not_allowed")
    problem(await ha.post(url("R1"), json=registration("M02300", [HAS, H2S])), 422, "site_not_allowed")
    # M00500 treated by {"kinds": ["hospital"]}: a community institution or a pharmacy is refused.
    problem(await h2.post(url("R1"), json=registration("M00500", [C1S])), 422, "site_not_allowed")
    problem(await h2.post(url("R1"), json=registration("M00500", [P1S])), 422, "site_not_allowed")
    # site_not_allowed comes before the site rule's own refusals: 4 sites > max_sites 3, one not allowed.
    problem(await h2.post(url("R1"), json=registration("M00500", [H1S, H2S, H3S, C1S])), 422, "site_not_allowed")
    problem(await h2.post(url("R1"), json=registration("M00500", [H1S, H2S, H3S, HAS])), 422, "too_many_sites")
    r = await h2.post(url("R1"), json=registration("M00500", [H2S, H3S]))
    assert r.status_code == 201, r.text
    assert await world.fetchval("SELECT count(*) FROM special_disease_registrations") == 1


async def test_all_sites_open_only_the_qualifying_medical_institutions(world, inst):
    await add_person(world, "S1", supplementary=True)
    await add_person(world, "N1")
    h3 = await inst(H3S)
    problem(await h3.post(url("N1"), json=registration("M00500", "all")), 422, "all_sites_not_allowed")
    r = await h3.post(url("S1"), json=registration("M00500", "all"))
    assert r.status_code == 201 and r.json()["all_sites"] is True, r.text

    # At a community institution (kinds ["hospital"] does not admit it): site_not_chosen.
    problem(await settle(await inst(C1S), special("S1", "M00500", "1000.00", encounter_id="E1")), 422, "site_not_chosen")
    # A pharmacy: "all" never opens pharmacies.
    problem(await settle(await inst(P1S), special("S1", "M00500", "1000.00", encounter_id="E2")), 422, "site_not_chosen")
    # A level-2 hospital qualifies: 1000.00 in scope, no deductible, the disease's ratio 85 %:
    # basic_fund 1000.00 × 0.85 = 850.00; pool_self_pay 150.00; cash 150.00.
    r = await settle(await inst(H2S), special("S1", "M00500", "1000.00", encounter_id="E3"))
    assert r.status_code == 201, r.text
    t = r.json()["totals"]
    assert (t["basic_fund"], t["pool_self_pay"], t["cash"]) == ("850.00", "150.00", "150.00")


async def test_treated_by_at_settlement_even_for_a_named_site(world, inst):
    # A registration naming a site that does not qualify (arranged behind the API's back,
    # e.g. made before the policy named treated_by) does not open it.
    await add_person(world, "A1")
    await add_registration(world, "A1", "M02300", [H2S, HAS], certifier=HAS)
    problem(await settle(await inst(H2S), special("A1", "M02300", "1000.00", encounter_id="E1")), 422, "site_not_chosen")
    # At HAS: 1000.00 × 90 % (the disease's ratio) = 900.00 fund, 100.00 cash.
    r = await settle(await inst(HAS), special("A1", "M02300", "1000.00", encounter_id="E2"))
    assert r.status_code == 201, r.text
    assert (r.json()["totals"]["basic_fund"], r.json()["totals"]["cash"]) == ("900.00", "100.00")


async def test_aid_only_disease_refused_for_an_ordinary_resident(world, inst):
    await add_person(world, "O1")  # no aid category
    await add_person(world, "M1", aid_category="minimum_living")
    await add_person(world, "P1", aid_category="registered_poor", tiers=(("2020-01-01", None, 1),))
    h2, c1 = await inst(H2S), await inst(C1S)
    problem(await h2.post(url("O1"), json=registration("M07900", [H2S])), 422, "disease_not_covered")
    problem(await h2.post(url("M1"), json=registration("M07900", [H2S])), 422, "disease_not_covered")
    # Order: disease_not_covered before certifier_not_allowed (C1S is below min_level 2) and
    # before site_not_allowed; for the poor person the certifier is the first refusal.
    problem(await c1.post(url("O1"), json=registration("M07900", [H2S])), 422, "disease_not_covered")
    problem(await c1.post(url("P1"), json=registration("M07900", [H2S])), 422, "certifier_not_allowed")
    # A pharmacy never certifies (403), but the disease's coverage is judged first.
    p1 = await inst(P1S)
    problem(await p1.post(url("O1"), json=registration("M07900", [H2S])), 422, "disease_not_covered")
    problem(await p1.post(url("P1"), json=registration("M07900", [H2S])), 403, "certifier_not_allowed")
    r = await h2.post(url("P1"), json=registration("M07900", [H2S]))
    assert r.status_code == 201, r.text

    # At settlement: a 14 encounter for the disease is refused for anyone else, even with a
    # registration (arranged directly) — and before special_disease_not_registered (§7).
    await add_registration(world, "O1", "M07900", [H2S])
    problem(await settle(h2, special("O1", "M07900", "100.00", encounter_id="E1")), 422, "disease_not_covered")
    problem(await settle(h2, special("M1", "M07900", "100.00", encounter_id="E2")), 422, "disease_not_covered")
    # The registered poor person, tier 1: 100.00 × 90 % = 90.00 fund, 10.00 cash.
    r = await settle(h2, special("P1", "M07900", "100.00", encounter_id="E3"))
    assert r.status_code == 201, r.text
    assert (r.json()["totals"]["basic_fund"], r.json()["totals"]["cash"]) == ("90.00", "10.00")
    assert await world.fetchval("SELECT count(*) FROM settlements") == 1


async def test_site_change_applies_treated_by_but_not_certified_by(world, inst, ops):
    await add_person(world, "R1")
    ha = await inst(HAS)
    r = await ha.post(url("R1"), json=registration("M02300", [HAS]))
    reg = r.json()["registration_id"]
    change = f"{url('R1')}/{reg}/sites"
    problem(await ops.post(change, json={"sites": [H2S], "effective_from": "2026-07-01"}), 422, "site_not_allowed")
    # Ops (not an admitted certifier) may change to a qualifying site.
    r = await ops.post(change, json={"sites": [HAS], "effective_from": "2026-07-01"})
    assert r.status_code == 201, r.text
