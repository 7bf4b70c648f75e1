"""Registrations at settlement time (settlement.md §7–§8), end to end over HTTP.

Registrations, filings and referrals are made through their own endpoints; the
settlement (POST /v1/settlements with Idempotency-Key, and /preview) must honour
them. Every figure below is worked by hand from the Dongguan resident policy of
policy.md (tests/settlement/dongguan_390.json) or its Zhongshan copy
(tests/registrations/world.py: `unfiled: reject`, no cross-province outpatient).
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal as D

import pytest

from app.kit.clock import CST
from tests.helpers import problem
from tests.registrations.world import C1_ZS, H2_ZS, ZS, add_person, registration
from tests.world import C1, H1, H3, H3_BJ, H3_ZS, P1, accumulators, encounter

pytestmark = pytest.mark.asyncio

_keys = itertools.count(1)
SD_URL = "/v1/persons/{}/special-disease-registrations"


async def settle(client, body):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": f"reg-{next(_keys)}"})


async def preview(client, body):
    return await client.post("/v1/settlements/preview", json=body)


def totals(response, *names: str) -> tuple[str, ...]:
    assert response.status_code in (200, 201), response.text
    t = response.json()["totals"]
    return tuple(t[n] for n in names)


def sd(person_id: str, disease: str, price: str, *, date: str = "2026-03-10", encounter_id: str = "SD1") -> dict:
    return encounter(person_id, [("DRUG_A", "1", price)], med_type="14", special_disease=disease, date=date,
                     encounter_id=encounter_id)


def inpatient(person_id: str, price: str, *, date: str = "2026-03-10", encounter_id: str = "ZY1", **extra) -> dict:
    return encounter(person_id, [("DRUG_A", "1", price)], med_type="21", date=date, encounter_id=encounter_id, **extra)


async def register(certifier, person_id: str, disease: str, sites, **kw) -> dict:
    r = await certifier.post(SD_URL.format(person_id), json=registration(disease, sites, **kw))
    assert r.status_code == 201, r.text
    return r.json()


async def file(ops, person_id: str, region: str, *, valid_from: str = "2026-01-01", valid_to: str = "2026-12-31"):
    r = await ops.post(f"/v1/persons/{person_id}/cross-region-filings",
                       json={"region": region, "valid_from": valid_from, "valid_to": valid_to, "kind": "temporary"})
    assert r.status_code == 201, r.text


async def refer(client, person_id: str, to: str, *, valid_from="2026-03-01", valid_to="2026-03-31", **kw) -> dict:
    r = await client.post("/v1/referrals", json={"person_id": person_id, "to_institution": to,
                                                 "valid_from": valid_from, "valid_to": valid_to, **kw})
    assert r.status_code == 201, r.text
    return r.json()


# ---------------------------------------------------------------- special diseases (§7)

TOTALS_14 = ("total", "in_scope", "deductible", "basic_fund", "pool_self_pay", "over_cap", "critical_illness", "cash")


async def test_special_disease_at_chosen_site_with_disease_limit(h3, c1, world, monkeypatch):
    # 2027-01-04 below must not be in the future (encounter_date_in_future comes first).
    monkeypatch.setattr(world.app.state, "clock", lambda: dt.datetime(2027, 1, 31, 12, 0, tzinfo=CST), raising=False)
    await add_person(world, "SD1")
    await register(h3, "SD1", "M03900", [C1])  # certified by H3, chosen site the community C1
    # 14 at C1, M03900 高血压, 3000.00 of A drugs: rule 14 ratio 0.75, deductible 0 (annual, group special).
    # raw = 3000.00 × 0.75 = 2250.00; room = disease annual_limit 2000 − 0 = 2000 → basic 2000.00,
    # over_cap 250.00, pool_self_pay 750.00. CI (14 is listed): base 0 + 750 + 250 = 1000 < 15000 → 0.
    # personal 1000.00, all cash (resident, no personal account).
    r = await settle(c1, sd("SD1", "M03900", "3000.00"))
    assert totals(r, *TOTALS_14) == ("3000.00", "3000.00", "0.00", "2000.00", "750.00", "250.00", "0.00", "1000.00")
    assert await accumulators(world, "SD1") == {
        "basic_paid": D("2000.00"), "disease:M03900": D("2000.00"), "ci_base": D("1000.00")}
    # the limit is used up: a second encounter gets nothing from basic (raw 75.00 all over_cap)
    r = await preview(c1, sd("SD1", "M03900", "100.00", encounter_id="SD2"))
    assert totals(r, "basic_fund", "over_cap", "pool_self_pay") == ("0.00", "75.00", "25.00")

    # outside the chosen sites; another disease; outside the registration's dates
    problem(await preview(h3, sd("SD1", "M03900", "100.00")), 422, "site_not_chosen")
    problem(await settle(h3, sd("SD1", "M03900", "100.00")), 422, "site_not_chosen")
    problem(await preview(c1, sd("SD1", "M01600", "100.00")), 422, "special_disease_not_registered")
    problem(await preview(c1, sd("SD1", "M03900", "100.00", date="2027-01-04")), 422,
            "special_disease_not_registered")


async def test_special_disease_own_ratio(h3, world):
    await add_person(world, "SD2")
    await register(h3, "SD2", "M00500", [H3])
    # M00500 恶性肿瘤门诊: the disease's ratio 0.85 replaces the rule's 0.75; no disease limit.
    # 1000.00 → basic 850.00, pool 150.00; CI base 150 → 0; cash 150.00.
    r = await settle(h3, sd("SD2", "M00500", "1000.00"))
    assert totals(r, *TOTALS_14) == ("1000.00", "1000.00", "0.00", "850.00", "150.00", "0.00", "0.00", "150.00")


async def test_without_registration(h3, world):
    await add_person(world, "SD3")
    problem(await settle(h3, sd("SD3", "M03900", "100.00")), 422, "special_disease_not_registered")
    assert await world.count("settlements") == 0


async def test_pharmacy_only_as_chosen_site(h3, p1, world):
    await add_person(world, "SD4")
    await add_person(world, "SD5")
    await register(h3, "SD4", "M01600", [P1])
    await register(h3, "SD5", "M01600", [C1])
    # 14 at the pharmacy P1, chosen: rule 14 names no kind, so it matches a pharmacy:
    # 400.00 × 0.75 = 300.00 (M01600 limit 3000 not reached); pool 100.00; cash 100.00.
    r = await settle(p1, sd("SD4", "M01600", "400.00"))
    assert totals(r, "basic_fund", "pool_self_pay", "cash") == ("300.00", "100.00", "100.00")
    problem(await settle(p1, sd("SD5", "M01600", "400.00", encounter_id="SD9")), 422, "site_not_chosen")
    await add_person(world, "SD6")
    problem(await settle(p1, sd("SD6", "M01600", "400.00", encounter_id="SD8")), 422,
            "special_disease_not_registered")


async def test_all_sites_with_supplementary(h3, h2, c1, world):
    await add_person(world, "SD7", supplementary=True)
    await register(h3, "SD7", "M03900", "all")
    for client in (h2, c1, h3):
        r = await preview(client, sd("SD7", "M03900", "100.00"))
        assert totals(r, "basic_fund") == ("75.00",)  # 100.00 × 0.75


# A registration open to all sites covers medical institutions; a pharmacy settles 14
# only where it was chosen by name (§1; seed 000 opens 所有定点医疗机构).
async def test_pharmacy_not_covered_by_all_sites(h3, p1, world):
    await add_person(world, "SD10", supplementary=True)
    await register(h3, "SD10", "M03900", "all")
    problem(await preview(p1, sd("SD10", "M03900", "100.00")), 422, "site_not_chosen")


async def test_site_change_applies_from_effective_date(h3, c1, world):
    await add_person(world, "SD8")
    old = await register(h3, "SD8", "M03900", [C1])
    r = await h3.post(f"{SD_URL.format('SD8')}/{old['registration_id']}/sites",
                      json={"sites": [H3], "effective_from": "2026-07-01"})
    assert r.status_code == 201, r.text
    # before 2026-07-01 the old site C1; from then on H3 only
    assert (await preview(c1, sd("SD8", "M03900", "100.00", date="2026-06-30"))).status_code == 200
    problem(await preview(c1, sd("SD8", "M03900", "100.00", date="2026-07-01")), 422, "site_not_chosen")
    assert (await preview(h3, sd("SD8", "M03900", "100.00", date="2026-07-01"))).status_code == 200
    problem(await preview(h3, sd("SD8", "M03900", "100.00", date="2026-06-30")), 422, "site_not_chosen")


async def test_zhongshan_rule_at_settlement(zs_hospital, inst, world):
    await add_person(world, "ZS1", region=ZS)
    await add_person(world, "ZS2", region=ZS, supplementary=True)
    await register(zs_hospital, "ZS1", "M03900", [C1_ZS])
    await register(zs_hospital, "ZS2", "M03900", "all")
    zs_h2 = await inst(H2_ZS)
    zs_c1 = await inst(C1_ZS)
    problem(await preview(zs_h2, sd("ZS1", "M03900", "100.00")), 422, "site_not_chosen")
    assert totals(await preview(zs_c1, sd("ZS1", "M03900", "100.00")), "basic_fund") == ("75.00",)
    assert totals(await preview(zs_h2, sd("ZS2", "M03900", "100.00")), "basic_fund") == ("75.00",)


# ---------------------------------------------------------------- cross-region (§7)


async def test_other_province_with_and_without_filing_ratio_delta(ops, inst, world):
    beijing = await inst(H3_BJ)
    await add_person(world, "CR1")  # Dongguan resident: unfiled → ratio −0.10, filed → +0
    # Inpatient at a Beijing level-3 hospital, 11000.00 of A drugs: deductible 1000 (per encounter),
    # payable 10000.00. Unfiled: ratio 0.70 − 0.10 = 0.60 → basic 6000.00, pool 4000.00;
    # CI base 1000 + 4000 = 5000 < 15000 → 0; cash 11000 − 6000 = 5000.00.
    names = ("deductible", "basic_fund", "pool_self_pay", "cash")
    r = await preview(beijing, inpatient("CR1", "11000.00"))
    assert totals(r, *names) == ("1000.00", "6000.00", "4000.00", "5000.00")
    assert r.json()["cross_region"] is True
    # Filed for the province 110000 (covers Beijing's 110100): ratio 0.70 + 0 → basic 7000.00, cash 4000.00.
    await file(ops, "CR1", "110000")
    r = await settle(beijing, inpatient("CR1", "11000.00"))
    assert totals(r, *names) == ("1000.00", "7000.00", "3000.00", "4000.00")
    assert r.json()["cross_region"] is True

    # Cross-province outpatient is open in Dongguan's policy: a 14 at the Beijing site,
    # M00500 ratio 0.85 + filed delta 0 → 1000.00 × 0.85 = 850.00.
    h3 = await inst(H3)
    await register(h3, "CR1", "M00500", [H3_BJ])
    r = await preview(beijing, sd("CR1", "M00500", "1000.00"))
    assert totals(r, "basic_fund") == ("850.00",)


async def test_other_province_unfiled_outpatient_special_disease_delta(inst, world):
    beijing = await inst(H3_BJ)
    h3 = await inst(H3)
    await add_person(world, "CR2")
    await register(h3, "CR2", "M00500", [H3_BJ])
    # unfiled: the disease ratio 0.85 replaces the rule's, then −0.10 → 0.75: 1000.00 → 750.00
    r = await preview(beijing, sd("CR2", "M00500", "1000.00"))
    assert totals(r, "basic_fund", "pool_self_pay") == ("750.00", "250.00")


async def test_unfiled_reject_policy(ops, inst, world):
    dongguan_h3 = await inst(H3)
    beijing = await inst(H3_BJ)
    for pid in ("ZR1", "ZR2", "ZR3"):
        await add_person(world, pid, region=ZS)  # Zhongshan: `unfiled: reject`
    # Zhongshan residents treated in Dongguan (same province) and Beijing, not filed
    problem(await preview(dongguan_h3, inpatient("ZR1", "11000.00")), 422, "cross_region_not_filed")
    problem(await settle(beijing, inpatient("ZR1", "11000.00")), 422, "cross_region_not_filed")
    # a filing for elsewhere or for other dates does not count
    await file(ops, "ZR1", "110000", valid_to="2026-03-09")
    await file(ops, "ZR1", "441900", valid_from="2026-03-11")
    problem(await preview(dongguan_h3, inpatient("ZR1", "11000.00")), 422, "cross_region_not_filed")
    problem(await preview(beijing, inpatient("ZR1", "11000.00")), 422, "cross_region_not_filed")
    # filed for the city 441900, or for the province 440000
    await file(ops, "ZR2", "441900")
    await file(ops, "ZR3", "440000")
    # Zhongshan's rules are Dongguan's: level 3 inpatient 0.70 after 1000, filed delta 0:
    # 10000.00 × 0.70 = 7000.00, cash 4000.00
    for pid in ("ZR2", "ZR3"):
        r = await preview(dongguan_h3, inpatient(pid, "11000.00"))
        assert totals(r, "basic_fund", "cash") == ("7000.00", "4000.00")
        assert r.json()["policy_version"] == "442000/390/2026-01-01" and r.json()["cross_region"] is True
    # the province filing does not reach Beijing
    problem(await preview(beijing, inpatient("ZR3", "11000.00")), 422, "cross_region_not_filed")
    # Outpatient across provinces is closed in this policy, filed or not
    await file(ops, "ZR3", "110000")
    assert totals(await preview(beijing, inpatient("ZR3", "11000.00")), "basic_fund") == ("7000.00",)
    problem(await preview(beijing, sd("ZR3", "M03900", "100.00")), 422, "med_type_not_allowed")
    # Within the insured region nothing is needed
    zs = await inst(H3_ZS)
    assert (await preview(zs, inpatient("ZR1", "11000.00"))).json()["cross_region"] is False


# ---------------------------------------------------------------- referrals (§8)


async def test_downward_referral_consumed_and_freed(h3, h1, ops, world):
    await add_person(world, "RF1")
    ref = await refer(h3, "RF1", H1)
    assert ref["direction"] == "downward"
    # Without the referral at the level-1 hospital: deductible 300, 9700.00 × 0.90 = 8730.00
    r = await preview(h1, inpatient("RF1", "10000.00"))
    assert totals(r, "deductible", "basic_fund", "cash") == ("300.00", "8730.00", "1270.00")
    # Downward: no deductible, ratio 0.90 + downward_referral_bonus 0.05 = 0.95:
    # 10000.00 × 0.95 = 9500.00; pool 500.00; CI base 500 → 0; cash 500.00
    r = await settle(h1, inpatient("RF1", "10000.00", referral_id=ref["referral_id"]))
    names = ("deductible", "basic_fund", "pool_self_pay", "cash")
    assert totals(r, *names) == ("0.00", "9500.00", "500.00", "500.00")
    first = r.json()["settlement_id"]
    assert (await ops.get(f"/v1/referrals/{ref['referral_id']}")).json()["consumed_by"] == first
    # consumed: a second inpatient settlement (or preview) with it is refused
    problem(await settle(h1, inpatient("RF1", "10000.00", encounter_id="ZY2", referral_id=ref["referral_id"])),
            422, "referral_invalid")
    problem(await preview(h1, inpatient("RF1", "10000.00", encounter_id="ZY2", referral_id=ref["referral_id"])),
            422, "referral_invalid")
    # the reversal frees it
    assert (await h1.post(f"/v1/settlements/{first}/reversal")).status_code == 201
    assert (await h1.get(f"/v1/referrals/{ref['referral_id']}")).json()["consumed_by"] is None
    r = await settle(h1, inpatient("RF1", "10000.00", encounter_id="ZY3", referral_id=ref["referral_id"]))
    assert totals(r, *names) == ("0.00", "9500.00", "500.00", "500.00")


async def test_upward_referral_deductible_continues(c1, h3, world):
    await add_person(world, "RF2")
    # At the community C1 (level 1), inpatient 1000.00: deductible 300, 700.00 × 0.90 = 630.00
    r = await settle(c1, inpatient("RF2", "1000.00", date="2026-03-01"))
    assert totals(r, "deductible", "basic_fund") == ("300.00", "630.00")
    origin = r.json()["settlement_id"]
    ref = await refer(c1, "RF2", H3, origin_settlement_id=origin)
    assert ref["direction"] == "upward" and ref["origin_settlement_id"] == origin
    # Upward to the level-3 H3, 10000.00: due = 1000 − 300 already paid = 700;
    # payable 9300.00 × 0.70 = 6510.00; pool 2790.00; CI base 700 + 2790 = 3490,
    # cumulative 370 + 3490 = 3860 < 15000 → 0; cash 10000 − 6510 = 3490.00
    r = await settle(h3, inpatient("RF2", "10000.00", referral_id=ref["referral_id"]))
    assert totals(r, "deductible", "basic_fund", "pool_self_pay", "critical_illness", "cash") == (
        "700.00", "6510.00", "2790.00", "0.00", "3490.00")
    # the same without the referral pays the whole deductible: 9000.00 × 0.70 = 6300.00
    r = await preview(h3, inpatient("RF2", "10000.00", encounter_id="ZY9"))
    assert totals(r, "deductible", "basic_fund") == ("1000.00", "6300.00")


async def test_referral_invalid_at_settlement(h3, h1, h2, world):
    await add_person(world, "RF3")
    await add_person(world, "RF4")
    ref = (await refer(h3, "RF3", H1))["referral_id"]
    # another person; another receiving institution; not inpatient
    problem(await preview(h1, inpatient("RF4", "1000.00", referral_id=ref)), 422, "referral_invalid")
    problem(await preview(h2, inpatient("RF3", "1000.00", referral_id=ref)), 422, "referral_invalid")
    body = encounter("RF3", [("DRUG_A", "1", "100.00")], med_type="11", referral_id=ref)
    problem(await preview(h1, body), 422, "referral_invalid")
    # outside its dates (2026-03-01 .. 2026-03-31)
    problem(await preview(h1, inpatient("RF3", "1000.00", date="2026-04-01", referral_id=ref)), 422,
            "referral_invalid")
    problem(await preview(h1, inpatient("RF3", "1000.00", date="2026-02-28", referral_id=ref)), 422,
            "referral_invalid")
    expired = (await refer(h3, "RF3", H1, valid_from="2026-03-01", valid_to="2026-03-05"))["referral_id"]
    problem(await settle(h1, inpatient("RF3", "1000.00", referral_id=expired)), 422, "referral_invalid")
    # unknown referral id
    problem(await preview(h1, inpatient("RF3", "1000.00", referral_id="00000000-0000-4000-8000-000000000000")),
            422, "referral_invalid")
    assert await world.count("settlements") == 0
    assert await world.count("referrals", "consumed_by IS NOT NULL") == 0
