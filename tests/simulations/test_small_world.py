"""One-parameter drafts on a small world, with the differences worked by hand.

World: the Dongguan resident policy (tests/settlement/dongguan_390.json). Every
settlement is an inpatient stay 21 at the level-3 hospital with one line of
MATERIAL_A (甲类, no price cap): 3000.00 in scope. Level-3 rule: deductible 1000,
ratio 0.70; critical illness starts at 15000 (7500 for minimum_living), never
reached here; medical aid for minimum_living: threshold 0, ratio 0.70.

- R1 (no aid category), two stays (March, April), each:
  basic = (3000 − 1000) × 0.70 = 1400.00, cash = 1000 + 600 = 1600.00.
- R2 (minimum_living), one stay in March:
  basic 1400.00; aid = (1000 + 600) × 0.70 = 1120.00; cash = 3000 − 1400 − 1120 = 480.00.
Baseline: basic 4200.00, medical_aid 1120.00, cash 3680.00.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.world import H2, H3, add_person, encounter
from tests.simulations.helpers import fund, policy, simulate

pytestmark = pytest.mark.asyncio

MATERIAL = [("MATERIAL_A", "1", "3000.00")]


@pytest.fixture
async def small_world(world, make_client):
    hospital = await make_client("institution", H3)
    await add_person(world, "R1")
    await add_person(world, "R2", aid_category="minimum_living")
    for n, (person, date) in enumerate((("R1", "2026-03-10"), ("R2", "2026-03-12"), ("R1", "2026-04-10"))):
        r = await hospital.post("/v1/settlements", json=encounter(person, MATERIAL, encounter_id=f"E{n}", date=date),
                                headers={"Idempotency-Key": f"k{n}"})
        assert r.status_code == 201, r.text
    return await make_client("ops")


def _baseline_is_as_settled(result):
    assert result["baseline_mismatches"] == 0
    assert result["settlements"] == 3 and result["persons"] == 2
    assert fund(result, "basic")["baseline"] == "4200.00"
    assert fund(result, "medical_aid")["baseline"] == "1120.00"
    assert fund(result, "cash")["baseline"] == "3680.00"
    assert result["personal_burden"]["baseline"] == "3680.00"


async def test_identical_draft_changes_nothing(small_world):
    result = await simulate(small_world, policy())
    _baseline_is_as_settled(result)
    for f in result["funds"]:
        assert f["difference"] == "0.00" and f["baseline"] == f["draft"], f
        # percent is null exactly where the baseline is zero
        assert (f["percent"] is None) == (D(f["baseline"]) == 0)
    assert result["top_changes"] == []
    assert result["personal_burden"]["deciles_baseline"] == result["personal_burden"]["deciles_draft"]
    for section in ("by_med_type", "by_aid_category", "by_institution_level"):
        assert all(r["baseline"] == r["draft"] for r in result[section])
    assert result["caps_hit"]["baseline"] == result["caps_hit"]["draft"] == {"basic_cap": 0, "ci_cap": 0, "aid_cap": 0}


async def test_lower_deductible(small_world):
    # Level-3 deductible 1000 → 800 (rule 0). Per stay: basic = (3000 − 800) × 0.70 = 1540.00;
    # R1 cash = 800 + 660 = 1460.00; R2 aid = 1460 × 0.70 = 1022.00, cash = 3000 − 1540 − 1022 = 438.00.
    result = await simulate(small_world, policy({"basic.rules.0.deductible": "800"}))
    _baseline_is_as_settled(result)
    basic, aid, cash = fund(result, "basic"), fund(result, "medical_aid"), fund(result, "cash")
    assert (basic["draft"], basic["difference"], basic["percent"]) == ("4620.00", "420.00", "10.00")  # 420/4200
    assert (aid["draft"], aid["difference"], aid["percent"]) == ("1022.00", "-98.00", "-8.75")  # 98/1120
    assert (cash["draft"], cash["difference"], cash["percent"]) == ("3358.00", "-322.00", "-8.75")  # 322/3680
    assert fund(result, "critical_illness")["percent"] is None  # baseline 0
    burden = result["personal_burden"]
    assert (burden["baseline"], burden["draft"]) == ("3680.00", "3358.00")
    # Two persons: the 10th…50th percentiles are rank ⌈p·2/100⌉ = 1, the 60th…90th rank 2.
    assert burden["deciles_baseline"] == ["480.00"] * 5 + ["3200.00"] * 4
    assert burden["deciles_draft"] == ["438.00"] * 5 + ["2920.00"] * 4
    assert result["top_changes"] == [
        {"person_id": "R1", "baseline": "3200.00", "draft": "2920.00", "difference": "-280.00"},
        {"person_id": "R2", "baseline": "480.00", "draft": "438.00", "difference": "-42.00"},
    ]
    by_cat = {(r["aid_category"], r["fund"]): (r["baseline"], r["draft"]) for r in result["by_aid_category"]}
    assert by_cat[(None, "basic")] == ("2800.00", "3080.00")
    assert by_cat[("minimum_living", "medical_aid")] == ("1120.00", "1022.00")
    assert by_cat[("minimum_living", "cash")] == ("480.00", "438.00")
    by_level = {(r["institution_level"], r["fund"]): (r["baseline"], r["draft"]) for r in result["by_institution_level"]}
    assert by_level[(3, "basic")] == ("4200.00", "4620.00")
    by_med = {(r["med_type"], r["fund"]): (r["baseline"], r["draft"]) for r in result["by_med_type"]}
    assert by_med[("21", "cash")] == ("3680.00", "3358.00")


async def test_higher_ratio(small_world):
    # Level-3 ratio 0.70 → 0.75: basic = 2000 × 0.75 = 1500.00 a stay; R1 cash 1000 + 500 = 1500.00;
    # R2 aid = 1500 × 0.70 = 1050.00, cash = 3000 − 1500 − 1050 = 450.00.
    result = await simulate(small_world, policy({"basic.rules.0.ratio": "0.75"}))
    _baseline_is_as_settled(result)
    basic, aid, cash = fund(result, "basic"), fund(result, "medical_aid"), fund(result, "cash")
    assert (basic["draft"], basic["difference"], basic["percent"]) == ("4500.00", "300.00", "7.14")  # 300/4200
    assert (aid["draft"], aid["difference"], aid["percent"]) == ("1050.00", "-70.00", "-6.25")  # 70/1120
    assert (cash["draft"], cash["difference"], cash["percent"]) == ("3450.00", "-230.00", "-6.25")  # 230/3680
    assert [c["difference"] for c in result["top_changes"]] == ["-200.00", "-30.00"]


async def test_basic_cap_hit(small_world):
    # Annual cap 1400: R1's first stay pays 1400.00 and reaches it, the second pays 0 (cash 3000);
    # R2 reaches it too. Both persons end at the cap in the draft, none in the baseline.
    result = await simulate(small_world, policy({"basic.annual_cap": "1400"}))
    assert result["caps_hit"]["baseline"]["basic_cap"] == 0
    assert result["caps_hit"]["draft"]["basic_cap"] == 2
    assert fund(result, "basic")["draft"] == "2800.00"  # 1400 + 0 + 1400


async def test_bad_draft_is_refused_like_a_policy(small_world, world):
    r = await small_world.post("/v1/simulations", json={
        "region": "441900", "insutype": "390", "date_from": "2026-01-01", "date_to": "2026-12-31",
        "draft": policy({"basic.rules.0.ratio": "1.5"})})
    assert r.status_code == 422 and r.json()["code"] == "policy_invalid"
    r = await small_world.post("/v1/simulations", json={
        "region": "441900", "insutype": "390", "date_from": "2026-01-01", "date_to": "2026-12-31",
        "draft": policy({"region": "442000"})})
    assert r.status_code == 422 and r.json()["code"] == "policy_invalid"
    assert await world.count("simulations") == 0


async def test_draft_is_never_a_policy_in_force(small_world, world):
    before = await world.fetch("SELECT region, insutype, effective_from, revision, document::text FROM policies")
    await simulate(small_world, policy({"basic.rules.0.ratio": "0.75", "effective_from": "2026-02-01"}))
    after = await world.fetch("SELECT region, insutype, effective_from, revision, document::text FROM policies")
    assert before == after


async def test_csv_result(small_world):
    result = await simulate(small_world, policy({"basic.rules.0.deductible": "800"}))
    r = await small_world.get(f"/v1/simulations/{result['_id']}/result", headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "section,key,fund,baseline,draft,difference,percent"
    assert "funds,,basic,4200.00,4620.00,420.00,10.00" in lines
    assert "top_changes,R1,,3200.00,2920.00,-280.00," in lines


async def test_upward_referral_takes_the_origins_replayed_deductible(world, make_client):
    # R3 stays at the level-2 hospital (deductible 600, ratio 0.80): basic = 2400 × 0.80 = 1920.00,
    # cash = 600 + 480 = 1080.00. Referred up to level 3 (deductible 1000, ratio 0.70) the deductible
    # continues (上转起付线连续计算): due 1000 − 600 = 400, basic = 2600 × 0.70 = 1820.00, cash 400 + 780 = 1180.00.
    # Draft: level-2 deductible 500. Origin: basic 2500 × 0.80 = 2000.00, cash 1000.00; the referred
    # stay now owes 1000 − 500 = 500: basic 2500 × 0.70 = 1750.00, cash 1250.00.
    h2, h3 = await make_client("institution", H2), await make_client("institution", H3)
    await add_person(world, "R3")
    origin = await h2.post("/v1/settlements", json=encounter("R3", MATERIAL, encounter_id="O1", date="2026-05-01"),
                           headers={"Idempotency-Key": "o1"})
    assert origin.status_code == 201, origin.text
    referral = await h2.post("/v1/referrals", json={
        "person_id": "R3", "to_institution": H3, "origin_settlement_id": origin.json()["settlement_id"],
        "valid_from": "2026-05-01", "valid_to": "2026-12-31"})
    assert referral.status_code == 201 and referral.json()["direction"] == "upward", referral.text
    stay = await h3.post("/v1/settlements", json=encounter(
        "R3", MATERIAL, encounter_id="U1", date="2026-05-09", referral_id=referral.json()["referral_id"]),
        headers={"Idempotency-Key": "u1"})
    assert stay.status_code == 201 and stay.json()["totals"]["deductible"] == "400.00", stay.text
    result = await simulate(await make_client("ops"), policy({"basic.rules.1.deductible": "500"}))
    assert result["baseline_mismatches"] == 0
    assert (fund(result, "basic")["baseline"], fund(result, "basic")["draft"]) == ("3740.00", "3750.00")
    assert (fund(result, "cash")["baseline"], fund(result, "cash")["draft"]) == ("2260.00", "2250.00")


async def test_account_balance_follows_the_drafts_payments(world, make_client):
    # Employee E1 (310, not retired), balance 2000.00, two level-3 stays of 3000.00 (rule: 1000, 0.70):
    # each leaves 1600.00 to the person. Baseline: the account pays 1600.00 then the 400.00 left,
    # cash 0 + 1200.00. Draft deductible 800: personal 800 + 660 = 1460.00 each; the account pays
    # 1460.00 then the 540.00 left (not the 400.00 stored), cash 0 + 920.00.
    from tests.world import dongguan_employee_policy

    h3 = await make_client("institution", H3)
    await add_person(world, "E1", insutype="310", balance="2000.00")
    for n, date in enumerate(("2026-03-01", "2026-04-01")):
        r = await h3.post("/v1/settlements", json=encounter("E1", MATERIAL, encounter_id=f"A{n}", date=date),
                          headers={"Idempotency-Key": f"a{n}"})
        assert r.status_code == 201, r.text
    draft = dongguan_employee_policy()
    draft["basic"]["rules"][0]["deductible"] = "800"
    result = await simulate(await make_client("ops"), draft, insutype="310")
    assert result["baseline_mismatches"] == 0
    pa, cash = fund(result, "personal_account"), fund(result, "cash")
    assert (pa["baseline"], pa["draft"]) == ("2000.00", "2000.00")
    assert (cash["baseline"], cash["draft"]) == ("1200.00", "920.00")
    assert result["top_changes"] == [{"person_id": "E1", "baseline": "3200.00", "draft": "2920.00",
                                      "difference": "-280.00"}]
