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

from tests.settlement.world import H3, add_person, encounter
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
