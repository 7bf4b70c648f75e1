"""门诊特定病种认定 and 选点 over HTTP: the Zhongshan site rule, every refusal code, site-change versions."""

from __future__ import annotations

import pytest

from tests.helpers import problem
from tests.registrations.world import C1_ZS, CLOSED_ZS, H1_ZS, H2_ZS, P1_ZS, ZS, add_person, registration
from tests.world import H3_ZS

pytestmark = pytest.mark.asyncio

BASE = "/v1/persons/{}/special-disease-registrations"


def url(person_id: str) -> str:
    return BASE.format(person_id)


async def test_basic_only_one_site(zs_hospital, world):
    # Zhongshan, basic insurance only (seed 000): one chosen site for a class-2 disease.
    await add_person(world, "ZS1", region=ZS)
    r = await zs_hospital.post(url("ZS1"), json=registration("M03900", [C1_ZS]))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["person_id"] == "ZS1" and body["disease_code"] == "M03900"
    assert body["certifier_code"] == H3_ZS
    assert body["sites"] == [C1_ZS] and body["all_sites"] is False
    assert (body["valid_from"], body["valid_to"]) == ("2026-01-01", "2026-12-31")
    assert body["registration_id"] and body["created_at"]
    assert body["ended_at"] is None and body["superseded_by"] is None
    row = await world.fetchrow("SELECT * FROM special_disease_registrations")
    assert (row["all_sites"], list(row["sites"]), row["certifier_code"]) == (False, [C1_ZS], H3_ZS)

    # two sites: the policy's max_sites is 1
    await add_person(world, "ZS2", region=ZS)
    r = await zs_hospital.post(url("ZS2"), json=registration("M03900", [C1_ZS, H3_ZS]))
    problem(r, 422, "too_many_sites")
    # "all" without supplementary insurance
    r = await zs_hospital.post(url("ZS2"), json=registration("M03900", "all"))
    problem(r, 422, "all_sites_not_allowed")
    assert await world.count("special_disease_registrations") == 1


async def test_supplementary_all_sites(zs_hospital, world):
    await add_person(world, "ZS3", region=ZS, supplementary=True)
    r = await zs_hospital.post(url("ZS3"), json=registration("M03900", "all"))
    assert r.status_code == 201, r.text
    assert r.json()["all_sites"] is True and r.json()["sites"] == []
    # a supplementary person may still choose one site
    r = await zs_hospital.post(url("ZS3"), json=registration("M01600", [C1_ZS]))
    assert r.status_code == 201, r.text


async def test_employee_rule_community_required_and_three_sites(zs_hospital, world):
    # The 310 variant: 1–3 sites with at least one community site; no "all" even with supplementary.
    await add_person(world, "ZE1", region=ZS, insutypes=("310",), supplementary=True)
    problem(await zs_hospital.post(url("ZE1"), json=registration("M03900", [H3_ZS, H2_ZS])),
            422, "community_site_required")
    problem(await zs_hospital.post(url("ZE1"), json=registration("M03900", [H3_ZS, H2_ZS, H1_ZS, C1_ZS])),
            422, "too_many_sites")
    problem(await zs_hospital.post(url("ZE1"), json=registration("M03900", "all")), 422, "all_sites_not_allowed")
    r = await zs_hospital.post(url("ZE1"), json=registration("M03900", [H3_ZS, C1_ZS, P1_ZS]))
    assert r.status_code == 201, r.text
    assert r.json()["sites"] == [H3_ZS, C1_ZS, P1_ZS]


async def test_both_insutypes_either_policy_covers(zs_hospital, world):
    # Both 310 and 390: M07800 is only in the 310 policy, so it is covered and the 310 rule
    # (community required, up to 3) governs; M03900 is in both, and 310 is tried first.
    await add_person(world, "ZB1", region=ZS, insutypes=("310", "390"))
    r = await zs_hospital.post(url("ZB1"), json=registration("M07800", [H3_ZS, C1_ZS]))
    assert r.status_code == 201, r.text
    problem(await zs_hospital.post(url("ZB1"), json=registration("M03900", [H3_ZS])), 422, "community_site_required")
    # A resident-only person is not covered for M07800.
    await add_person(world, "ZR1", region=ZS)
    problem(await zs_hospital.post(url("ZR1"), json=registration("M07800", [C1_ZS])), 422, "disease_not_covered")


async def test_refusal_codes(zs_hospital, zs_pharmacy, inst, ops, world):
    await add_person(world, "ZS4", region=ZS)
    problem(await zs_hospital.post(url("NOBODY"), json=registration("M03900", [C1_ZS])), 404, "person_not_found")
    problem(await zs_hospital.post(url("ZS4"), json=registration("X99999", [C1_ZS])), 422, "disease_not_covered")
    problem(await zs_hospital.post(url("ZS4"), json=registration("M03900", ["H44209999999"])), 422, "site_unknown")
    problem(await zs_hospital.post(url("ZS4"), json=registration("M03900", [CLOSED_ZS])), 422, "site_unknown")
    # no Zhongshan policy before 2026; no enrollment before 2020
    problem(await zs_hospital.post(url("ZS4"), json=registration("M03900", [C1_ZS], valid_from="2025-06-01")),
            422, "no_policy")
    problem(await zs_hospital.post(url("ZS4"), json=registration("M03900", [C1_ZS], valid_from="2019-06-01")),
            422, "not_insured")
    # dates and shape
    for bad in (
        registration("M03900", [C1_ZS], valid_from="2026-06-01", valid_to="2026-05-31"),
        registration("M03900", []),
        registration("M03900", [C1_ZS, C1_ZS]),
        registration("M03900", "some"),
        {**registration("M03900", [C1_ZS]), "certno": "x"},
        {k: v for k, v in registration("M03900", [C1_ZS]).items() if k != "valid_to"},
    ):
        problem(await zs_hospital.post(url("ZS4"), json=bad), 422, "validation_error")
    # who may certify: hospitals and community institutions, active; not ops, not pharmacies
    problem(await zs_pharmacy.post(url("ZS4"), json=registration("M03900", [C1_ZS])), 403, "certifier_not_allowed")
    closed = await inst(CLOSED_ZS)
    problem(await closed.post(url("ZS4"), json=registration("M03900", [C1_ZS])), 403, "institution_inactive")
    problem(await ops.post(url("ZS4"), json=registration("M03900", [C1_ZS])), 403, "forbidden")
    assert await world.count("special_disease_registrations") == 0
    assert await world.count("audit_log") == 0


async def test_overlap_refused_adjacent_allowed(zs_hospital, zs_community, world):
    await add_person(world, "ZS5", region=ZS)
    r = await zs_hospital.post(url("ZS5"), json=registration("M03900", [C1_ZS], valid_to="2026-06-30"))
    assert r.status_code == 201
    # another certifier, overlapping by one day
    problem(await zs_community.post(url("ZS5"), json=registration("M03900", [C1_ZS], valid_from="2026-06-30")),
            422, "registration_overlaps")
    # another disease at the same time: fine; the same disease from the next day: fine
    assert (await zs_hospital.post(url("ZS5"), json=registration("M01600", [C1_ZS]))).status_code == 201
    r = await zs_community.post(url("ZS5"), json=registration("M03900", [H3_ZS], valid_from="2026-07-01"))
    assert r.status_code == 201, r.text
    assert await world.count("special_disease_registrations") == 3


async def test_list_with_date_and_paging(zs_hospital, ops, world):
    await add_person(world, "ZS6", region=ZS)
    for body in (
        registration("M03900", [C1_ZS], valid_from="2026-01-01", valid_to="2026-03-31"),
        registration("M03900", [H3_ZS], valid_from="2026-04-01", valid_to="2026-12-31"),
        registration("M01600", [C1_ZS], valid_from="2026-02-01", valid_to="2026-12-31"),
    ):
        assert (await zs_hospital.post(url("ZS6"), json=body)).status_code == 201
    r = await ops.get(url("ZS6"))
    assert r.status_code == 200
    assert len(r.json()["items"]) == 3 and r.json()["next_cursor"] is None
    problem(await zs_hospital.get(url("ZS6"), params={"date": "2026-05-01"}), 403, "credential_required")
    r = await zs_hospital.get(url("ZS6"), params={"date": "2026-05-01", "certno": "11010519491231002X"})
    assert sorted((i["disease_code"], i["sites"][0]) for i in r.json()["items"]) == [
        ("M01600", C1_ZS), ("M03900", H3_ZS)]
    # pages of one
    seen, cursor = [], None
    while True:
        r = await ops.get(url("ZS6"), params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        seen += [i["registration_id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3
    problem(await ops.get(url("ZS6"), params={"cursor": "nonsense"}), 422, "validation_error")
    problem(await ops.get(url("NOBODY")), 404, "person_not_found")


async def test_site_change_makes_a_new_version(zs_hospital, zs_community, ops, world):
    await add_person(world, "ZS7", region=ZS)
    old = (await zs_hospital.post(url("ZS7"), json=registration("M03900", [C1_ZS]))).json()
    change = f"{url('ZS7')}/{old['registration_id']}/sites"

    # the new sites obey the rule too (max 1); nothing written
    problem(await zs_hospital.post(change, json={"sites": [H3_ZS, H2_ZS], "effective_from": "2026-07-01"}),
            422, "too_many_sites")
    problem(await zs_hospital.post(change, json={"sites": [H3_ZS], "effective_from": "2027-01-01"}),
            422, "validation_error")
    # only the certifier (or ops) changes sites
    problem(await zs_community.post(change, json={"sites": [H3_ZS], "effective_from": "2026-07-01"}),
            403, "not_certifier")
    assert await world.count("special_disease_registrations") == 1

    r = await zs_hospital.post(change, json={"sites": [H3_ZS], "effective_from": "2026-07-01"})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["registration_id"] != old["registration_id"]
    assert (new["valid_from"], new["valid_to"], new["sites"]) == ("2026-07-01", "2026-12-31", [H3_ZS])
    assert new["certifier_code"] == H3_ZS and new["disease_code"] == "M03900"

    items = {i["registration_id"]: i for i in (await ops.get(url("ZS7"))).json()["items"]}
    ended = items[old["registration_id"]]
    assert ended["valid_to"] == "2026-06-30" and ended["superseded_by"] == new["registration_id"]
    assert ended["ended_at"] is not None and ended["sites"] == [C1_ZS]
    # what a settlement on each date would read
    on_june = (await ops.get(url("ZS7"), params={"date": "2026-06-30"})).json()["items"]
    on_july = (await ops.get(url("ZS7"), params={"date": "2026-07-01"})).json()["items"]
    assert [i["sites"] for i in on_june] == [[C1_ZS]] and [i["sites"] for i in on_july] == [[H3_ZS]]

    # the old version cannot be changed again; the new one can, by ops too
    problem(await zs_hospital.post(change, json={"sites": [H2_ZS], "effective_from": "2026-08-01"}),
            409, "registration_superseded")
    change2 = f"{url('ZS7')}/{new['registration_id']}/sites"
    r = await ops.post(change2, json={"sites": [H2_ZS], "effective_from": "2026-09-01"})
    assert r.status_code == 201, r.text
    assert r.json()["certifier_code"] == H3_ZS
    assert await world.count("special_disease_registrations") == 3
    # a new registration overlapping any version's days is refused: the current one, and the
    # superseded one, which still applies to encounters before 2026-07-01
    problem(await zs_hospital.post(url("ZS7"), json=registration("M03900", [C1_ZS], valid_from="2026-12-01")),
            422, "registration_overlaps")
    problem(await zs_hospital.post(url("ZS7"), json=registration("M03900", [C1_ZS], valid_to="2026-03-31")),
            422, "registration_overlaps")
    problem(await zs_hospital.post(f"{url('ZS7')}/00000000-0000-4000-8000-000000000000/sites",
                                   json={"sites": [H2_ZS], "effective_from": "2026-09-01"}),
            404, "registration_not_found")
    actions = [r["action"] for r in await world.fetch("SELECT action FROM audit_log ORDER BY audit_id")]
    assert actions == ["special_disease_registration.create"] + ["special_disease_registration.change_sites"] * 2


async def test_site_change_from_the_first_day_replaces_the_sites(zs_hospital, ops, world):
    await add_person(world, "ZS8", region=ZS)
    old = (await zs_hospital.post(url("ZS8"), json=registration("M03900", [C1_ZS], valid_to="2026-06-30"))).json()
    r = await zs_hospital.post(f"{url('ZS8')}/{old['registration_id']}/sites",
                               json={"sites": [H3_ZS], "effective_from": "2026-01-01"})
    assert r.status_code == 201, r.text
    # the old version is left with an empty range (valid_to the day before valid_from): it applies on no day
    items = {i["registration_id"]: i for i in (await ops.get(url("ZS8"))).json()["items"]}
    assert (items[old["registration_id"]]["valid_from"], items[old["registration_id"]]["valid_to"]) == (
        "2026-01-01", "2025-12-31")
    on = (await ops.get(url("ZS8"), params={"date": "2026-01-01"})).json()["items"]
    assert [i["sites"] for i in on] == [[H3_ZS]]
    # and it blocks nothing: a registration right after the new version is fine
    r = await zs_hospital.post(url("ZS8"), json=registration("M03900", [C1_ZS], valid_from="2026-07-01"))
    assert r.status_code == 201, r.text
