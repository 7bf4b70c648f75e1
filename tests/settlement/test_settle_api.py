"""Settlement over HTTP against real PostgreSQL: numbers worked by hand, refusals, reads, reversal."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import problem
from tests.world import H3, accumulators, add_person, encounter

pytestmark = pytest.mark.asyncio

EXAMPLE_1 = [
    ("DRUG_A", "10", "25.00"),  # A: in_scope 250.00
    ("DRUG_B10", "5", "80.00"),  # B 10%: pre_self_pay 40.00, in_scope 360.00
    ("ITEM_C", "1", "500.00"),  # C: self_pay_full 500.00
    ("SERVICE_CAP100", "3", "120.00"),  # cap 100: capped 300.00, over_limit 60.00
    ("NOT_LISTED", "2", "15.50"),  # not in catalog: self_pay_full 31.00
    ("MATERIAL_A", "1", "20000.00"),  # A: in_scope 20000.00
]


def key(n: int | str) -> dict[str, str]:
    return {"Idempotency-Key": f"k-{n}"}


async def settle(client, body, idem="k-1"):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": idem})


async def test_examples_1_and_2_inpatient_level3(hospital, world):
    await add_person(world, "P001")
    r = await settle(hospital, encounter("P001", EXAMPLE_1))
    assert r.status_code == 201, r.text
    s = r.json()
    # examples.md §1: total 21541.00 = 531.00 + 60.00 + 40.00 + 20910.00
    # basic: deductible 1000.00; payable 19910.00 × 70% = 13937.00; pool_self_pay 5973.00
    # CI base 6973.00 < 15000: 0.  personal 21541.00 − 13937.00 = 7604.00, all cash (resident)
    assert s["totals"] == {
        "total": "21541.00", "self_pay_full": "531.00", "over_limit": "60.00", "pre_self_pay": "40.00",
        "in_scope": "20910.00", "deductible": "1000.00", "pool_self_pay": "5973.00", "over_cap": "0.00",
        "basic_fund": "13937.00", "critical_illness": "0.00", "medical_aid": "0.00", "fallback": "0.00",
        "secondary_aid": "0.00", "fund_total": "13937.00", "personal_total": "7604.00",
        "personal_account": "0.00", "cash": "7604.00",
    }
    assert s["status"] == "settled" and s["policy_version"] == "441900/390/2026-01-01"
    assert s["accumulation_year"] == 2026 and s["cross_region"] is False
    reasons = {i["code"]: i["reason"] for i in s["items"]}
    assert reasons == {"DRUG_A": None, "DRUG_B10": None, "ITEM_C": "category_c", "SERVICE_CAP100": None,
                       "NOT_LISTED": "not_in_catalog", "MATERIAL_A": None}
    cap_line = next(i for i in s["items"] if i["code"] == "SERVICE_CAP100")
    assert (cap_line["amount"], cap_line["over_limit"], cap_line["in_scope"]) == ("360.00", "60.00", "300.00")
    assert [f["fund"] for f in s["funds"]] == ["basic"]
    assert s["funds"][0]["fund_pay_type"] == "390100" and s["funds"][0]["amount"] == "13937.00"
    assert await accumulators(world, "P001") == {"basic_paid": D("13937.00"), "ci_base": D("6973.00")}

    # examples.md §2: second admission, one A item of 30000.00: deductible 1000.00 again,
    # basic 29000.00 × 70% = 20300.00, pool 8700.00; CI base 9700.00, cumulative 6973.00 → 16673.00,
    # 1673.00 above 15000 at 60% = 1003.80.
    r = await settle(hospital, encounter("P001", [("MATERIAL_A", "1", "30000.00")], encounter_id="E2"), "k-2")
    assert r.status_code == 201, r.text
    t = r.json()["totals"]
    assert (t["basic_fund"], t["critical_illness"], t["fund_total"], t["cash"]) == (
        "20300.00", "1003.80", "21303.80", "8696.20")
    assert await accumulators(world, "P001") == {
        "basic_paid": D("34237.00"), "ci_base": D("16673.00"), "ci_paid": D("1003.80")}
    policy_in_use = await world.fetchval(
        "SELECT in_use FROM policies WHERE region = '441900' AND insutype = '390'")
    assert policy_in_use is True


async def test_examples_3_and_4_aid_categories(hospital2, make_client, world):
    await add_person(world, "LOW", aid_category="minimum_living")
    r = await settle(hospital2, encounter("LOW", [("MATERIAL_A", "1", "10000.00")]))
    assert r.status_code == 201, r.text
    t = r.json()["totals"]
    # examples.md §3: basic (80%, 600): 9400 × 0.8 = 7520.00; aid (70%, no threshold) on
    # 600 + 1880 = 2480.00 → 1736.00; secondary base 744.00 < 7000 → 0.
    assert (t["basic_fund"], t["medical_aid"], t["secondary_aid"], t["fund_total"], t["cash"]) == (
        "7520.00", "1736.00", "0.00", "9256.00", "744.00")
    assert (await accumulators(world, "LOW"))["sa_base"] == D("744.00")

    level1 = await make_client("institution", "H44190000003")
    await add_person(world, "POOR", aid_category="extreme_poverty")
    r = await settle(level1, encounter("POOR", [("MATERIAL_A", "1", "5000.00"), ("ITEM_C", "1", "1000.00")]))
    assert r.status_code == 201, r.text
    body = r.json()
    t = body["totals"]
    # examples.md §4: basic 4700 × 0.9 = 4230.00; aid 100% of 770.00; secondary 80% of 1000.00 = 800.00
    assert (t["basic_fund"], t["medical_aid"], t["secondary_aid"], t["fund_total"], t["cash"]) == (
        "4230.00", "770.00", "800.00", "5800.00", "200.00")
    assert {f["fund"]: f["fund_pay_type"] for f in body["funds"]} == {
        "basic": "390100", "medical_aid": "610100", "secondary_aid": "610102"}


async def test_pharmacy_employee_personal_account(pharmacy, world):
    await add_person(world, "EMP", insutype="310", retired=True, balance="500.00")
    body = encounter("EMP", [("DRUG_A", "4", "50.00")], med_type="41")
    r = await settle(pharmacy, body)
    assert r.status_code == 201, r.text
    t = r.json()["totals"]
    # rule 41: 50% + retired 10% = 60%, annual deductible 100 (group outpatient)
    # 200.00: deductible 100.00, basic 100 × 0.6 = 60.00, pool 40.00; personal 140.00 from the account
    assert (t["deductible"], t["basic_fund"], t["pool_self_pay"], t["personal_account"], t["cash"]) == (
        "100.00", "60.00", "40.00", "140.00", "0.00")
    funds = {f["fund"]: (f["fund_pay_type"], f["amount"]) for f in r.json()["funds"]}
    assert funds == {"basic": ("310100", "60.00"), "personal_account": ("310200", "140.00")}
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id = 'EMP'") == D("360.00")

    # Second purchase: the annual deductible is met; 200 × 0.6 = 120.00; personal 80.00, paid in cash on request.
    body2 = encounter("EMP", [("DRUG_A", "4", "50.00")], med_type="41", encounter_id="E2",
                      use_personal_account=False)
    r = await settle(pharmacy, body2, "k-2")
    t = r.json()["totals"]
    assert (t["deductible"], t["basic_fund"], t["personal_account"], t["cash"]) == (
        "0.00", "120.00", "0.00", "80.00")
    assert await accumulators(world, "EMP") == {
        "basic_paid": D("180.00"), "deductible:outpatient": D("100.00"), "limit:general_outpatient": D("180.00")}
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id = 'EMP'") == D("360.00")


async def test_cross_region_unfiled_ratio_delta_and_province_catalog(zhongshan_hospital, world):
    await add_person(world, "DG")
    body = encounter("DG", [("MATERIAL_A", "1", "10000.00"), ("SERVICE_GD", "2", "100.00")])
    r = await settle(zhongshan_hospital, body)
    assert r.status_code == 201, r.text
    s = r.json()
    # SERVICE_GD: Guangdong's cap 90.00 (province catalog before national 100.00): capped 180.00, over 20.00
    # in_scope 10180.00; unfiled: 70% − 10% = 60%; deductible 1000; 9180.00 × 0.6 = 5508.00; pool 3672.00
    assert s["cross_region"] is True
    t = s["totals"]
    assert (t["over_limit"], t["in_scope"], t["basic_fund"], t["pool_self_pay"]) == (
        "20.00", "10180.00", "5508.00", "3672.00")


async def test_preview_equals_settle_and_writes_nothing(hospital, world):
    await add_person(world, "P001")
    before = await world.counts()
    body = encounter("P001", EXAMPLE_1)
    p = await hospital.post("/v1/settlements/preview", json=body)
    assert p.status_code == 200, p.text
    assert p.json()["status"] == "preview" and p.json()["settlement_id"] is None
    assert await world.counts() == before
    s = await settle(hospital, body)
    assert s.status_code == 201
    assert p.json()["totals"] == s.json()["totals"]
    assert p.json()["items"] == s.json()["items"] and p.json()["funds"] == s.json()["funds"]


async def test_amounts_as_json_numbers_are_exact(hospital, world):
    await add_person(world, "P001")
    body = encounter("P001", [("DRUG_B10", "3", "0.1")])
    body["items"][0]["qty"] = 3
    body["items"][0]["unit_price"] = 0.1  # 3 × 0.1 = 0.30 exactly (a float would give 0.30000000000000004)
    r = await hospital.post("/v1/settlements/preview", json=body)
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    # B 10%: pre_self_pay round2(0.30 × 0.10) = 0.03, in_scope 0.27
    assert (item["amount"], item["pre_self_pay"], item["in_scope"]) == ("0.30", "0.03", "0.27")


@pytest.mark.parametrize(
    "mutate, status, code",
    [
        (lambda b: b.update(person_id="NOBODY"), 404, "person_not_found"),
        (lambda b: b.update(insutype="310"), 422, "not_insured"),
        (lambda b: b.update(encounter_date="2025-06-01"), 422, "no_policy"),
        (lambda b: b.update(med_type="41"), 422, "med_type_not_allowed"),
        (lambda b: b.update(med_type="14", special_disease="M03900"), 422, "special_disease_not_registered"),
        (lambda b: b.update(referral_id="5b0e8a53-6f57-4d4e-8a53-6f574d4e8a53"), 422, "referral_invalid"),
        (lambda b: b.update(person_id=None, e_voucher_code="ev_short"), 422, "e_voucher_invalid"),
        (lambda b: b["items"][0].update(qty="1.23456"), 422, "validation_error"),
        (lambda b: b["items"][0].update(unit_price="1.1234567"), 422, "validation_error"),
        (lambda b: b["items"][0].update(qty="0"), 422, "amount_out_of_range"),  # api.md: 0 < qty
        (lambda b: b["items"].append(dict(b["items"][0])), 422, "validation_error"),
        (lambda b: b.update(e_voucher_code="ev_x"), 422, "validation_error"),
        (lambda b: b.update(items=[]), 422, "validation_error"),
        (lambda b: b.update(surprise=True), 422, "validation_error"),
        (lambda b: b.update(institution_code="H44190000002"), 403, "institution_mismatch"),
    ],
)
async def test_refusals_write_nothing(hospital, world, mutate, status, code):
    await add_person(world, "P001")
    body = encounter("P001", [("DRUG_A", "1", "10.00")])
    mutate(body)
    before = await world.counts()
    r = await settle(hospital, body)
    body_json = problem(r, status, code)
    assert "P001" not in r.text and "NOBODY" not in r.text  # no personal data echoed
    assert body_json["detail"]
    after = await world.counts()
    # The only row a refusal leaves: a refused e-voucher code counts as a failed attempt
    # for the brute-force limiter (app.evouchers.ratelimit), outside the settlement's transaction.
    failed_codes = after.pop("e_voucher_attempts", 0) - before.pop("e_voucher_attempts", 0)
    assert failed_codes == (1 if code == "e_voucher_invalid" else 0)
    assert after == before


async def test_refusal_codes_for_institutions(closed_hospital, pharmacy, world):
    await add_person(world, "P001")
    r = await settle(closed_hospital, encounter("P001", [("DRUG_A", "1", "10.00")]))
    problem(r, 403, "institution_inactive")  # api.md: the key is refused in auth, before the body is read
    r = await settle(pharmacy, encounter("P001", [("DRUG_A", "1", "10.00")], med_type="21"))
    problem(r, 422, "med_type_not_allowed")
    assert await world.count("settlements") == 0


async def test_missing_or_bad_idempotency_key(hospital, world):
    await add_person(world, "P001")
    body = encounter("P001", [("DRUG_A", "1", "10.00")])
    problem(await hospital.post("/v1/settlements", json=body), 422, "validation_error")
    problem(await settle(hospital, body, "x" * 129), 422, "validation_error")
    assert await world.count("settlements") == 0


async def test_encounter_settled_once_until_reversed(hospital, ops, world):
    await add_person(world, "P001")
    body = encounter("P001", EXAMPLE_1)
    first = await settle(hospital, body, "a")
    assert first.status_code == 201
    problem(await settle(hospital, body, "b"), 409, "encounter_already_settled")
    sid = first.json()["settlement_id"]

    r = await hospital.post(f"/v1/settlements/{sid}/reversal")
    assert r.status_code == 201, r.text
    rev = r.json()
    assert rev["status"] == "reversed" and rev["reversed_at"] and rev["totals"] == first.json()["totals"]
    assert await accumulators(world, "P001") == {}
    again = await ops.post(f"/v1/settlements/{sid}/reversal")
    assert again.status_code == 200 and again.json() == rev
    got = await hospital.get(f"/v1/settlements/{sid}")
    assert got.json()["status"] == "reversed"
    assert await world.count("settlement_reversals") == 1

    r = await settle(hospital, body, "c")
    assert r.status_code == 201, r.text
    assert await accumulators(world, "P001") == {"basic_paid": D("13937.00"), "ci_base": D("6973.00")}


async def test_reversal_restores_account_balance(pharmacy, world):
    await add_person(world, "EMP", insutype="310", balance="50.00")
    r = await settle(pharmacy, encounter("EMP", [("DRUG_A", "4", "50.00")], med_type="41"))
    # 200.00: deductible 100, basic 100 × 0.5 = 50.00, personal 150.00; account pays its 50.00, cash 100.00
    t = r.json()["totals"]
    assert (t["basic_fund"], t["personal_account"], t["cash"]) == ("50.00", "50.00", "100.00")
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id='EMP'") == D("0.00")
    sid = r.json()["settlement_id"]
    assert (await pharmacy.post(f"/v1/settlements/{sid}/reversal")).status_code == 201
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id='EMP'") == D("50.00")
    assert await accumulators(world, "EMP") == {}


async def test_tenancy(hospital, hospital2, ops, world):
    await add_person(world, "P001")
    sid = (await settle(hospital, encounter("P001", EXAMPLE_1))).json()["settlement_id"]
    problem(await hospital2.get(f"/v1/settlements/{sid}"), 404, "settlement_not_found")
    problem(await hospital2.post(f"/v1/settlements/{sid}/reversal"), 404, "settlement_not_found")
    assert (await ops.get(f"/v1/settlements/{sid}")).status_code == 200
    assert (await hospital2.get("/v1/settlements")).json() == {"items": [], "next_cursor": None}
    own = (await hospital.get("/v1/settlements")).json()
    assert [i["settlement_id"] for i in own["items"]] == [sid]
    problem(await ops.post("/v1/settlements/preview", json=encounter("P001", EXAMPLE_1)), 403, "forbidden")
    assert (await world.fetchval("SELECT status FROM settlements")) == "settled"


async def test_list_pages_with_cursor(hospital, ops, world):
    await add_person(world, "P001")
    ids = []
    for n in range(5):
        r = await settle(hospital, encounter("P001", [("DRUG_A", "1", "10.00")], encounter_id=f"E{n}",
                                             med_type="11"), f"k{n}")
        assert r.status_code == 201, r.text
        ids.append(r.json()["settlement_id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "person_id": "P001"} | ({"cursor": cursor} if cursor else {})
        page = (await ops.get("/v1/settlements", params=params)).json()
        seen += [i["settlement_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    problem(await ops.get("/v1/settlements", params={"cursor": "garbage"}), 422, "validation_error")
    problem(await ops.get("/v1/settlements", params={"limit": 501}), 422, "validation_error")


async def test_idempotent_replay_and_reuse(hospital, world):
    await add_person(world, "P001")
    body = encounter("P001", EXAMPLE_1)
    first = await settle(hospital, body, "same")
    again = await settle(hospital, body, "same")
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    assert "Idempotent-Replayed" not in first.headers
    other = dict(body, encounter_id="OTHER")
    problem(await settle(hospital, other, "same"), 409, "idempotency_key_reused")
    assert await world.count("settlements") == 1
    # The same key at another institution is another key.
    assert await world.count("idempotency_keys") == 1
    assert H3 == first.json()["institution_code"]


async def test_a_used_policy_version_can_no_longer_be_replaced(hospital, admin_client, world):
    from tests.world import dongguan_resident_policy

    doc = dongguan_resident_policy()
    url = "/v1/policies/441900/390/2026-01-01"
    # Before any settlement the version may still be corrected.
    assert (await admin_client.put(url, json=doc)).status_code in (200, 201)
    await add_person(world, "P001")
    assert (await settle(hospital, encounter("P001", EXAMPLE_1))).status_code == 201
    problem(await admin_client.put(url, json=doc), 409, "policy_in_use")
    r = await hospital.get("/v1/settlements")
    assert r.json()["items"][0]["settlement_id"]


async def test_settle_parses_the_raw_body_exactly(hospital, world):
    await add_person(world, "P001")
    before = await world.counts()
    r = await hospital.post("/v1/settlements", content=b'{"person_id": "P001", "items": [',
                            headers={"Idempotency-Key": "bad", "Content-Type": "application/json"})
    problem(r, 400, "malformed_body")
    assert await world.counts() == before
    # JSON numbers reach the engine as exact decimals: 3 × 0.1 = 0.30, B 10% → 0.03 / 0.27
    raw = (b'{"person_id": "P001", "encounter_id": "N1", "med_type": "11", "encounter_date": "2026-03-10",'
           b' "items": [{"line_no": 1, "code": "DRUG_B10", "qty": 3, "unit_price": 0.1}]}')
    r = await hospital.post("/v1/settlements", content=raw,
                            headers={"Idempotency-Key": "num", "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]
    assert (item["qty"], item["unit_price"], item["amount"], item["pre_self_pay"], item["in_scope"]) == (
        "3", "0.1", "0.30", "0.03", "0.27")
    # A too-precise price is refused with the field's location.
    bad = raw.replace(b"0.1}", b"0.1234567}").replace(b"N1", b"N2")
    r = await hospital.post("/v1/settlements", content=bad,
                            headers={"Idempotency-Key": "precise", "Content-Type": "application/json"})
    assert problem(r, 422, "validation_error")["errors"][0]["loc"] == ["body", "items", 0, "unit_price"]


async def test_stored_lines_are_the_returned_lines(hospital, world):
    await add_person(world, "P001")
    s = (await settle(hospital, encounter("P001", EXAMPLE_1))).json()
    rows = await world.fetch(
        "SELECT line_no, code, name, qty, unit_price, amount, category, self_pay_full, over_limit, pre_self_pay,"
        " in_scope, reason FROM settlement_items WHERE settlement_id = $1::uuid ORDER BY line_no",
        s["settlement_id"])
    assert [
        {"line_no": r["line_no"], "code": r["code"], "amount": str(r["amount"]), "category": r["category"],
         "self_pay_full": str(r["self_pay_full"]), "over_limit": str(r["over_limit"]),
         "pre_self_pay": str(r["pre_self_pay"]), "in_scope": str(r["in_scope"]), "reason": r["reason"],
         "qty": D(r["qty"]), "unit_price": D(r["unit_price"])}
        for r in rows
    ] == [
        {k: (D(v) if k in ("qty", "unit_price") else v) for k, v in i.items() if k != "name"} for i in s["items"]
    ]
    funds = await world.fetch(
        "SELECT fund, fund_pay_type, amount, basis FROM settlement_funds WHERE settlement_id = $1::uuid", s["settlement_id"])
    assert {(f["fund"], f["fund_pay_type"], str(f["amount"]), str(f["basis"])) for f in funds} == {
        (f["fund"], f["fund_pay_type"], f["amount"], f["basis"]) for f in s["funds"]}
    deltas = {r["name"]: r["amount"] for r in await world.fetch(
        "SELECT name, amount FROM settlement_deltas WHERE settlement_id = $1::uuid", s["settlement_id"])}
    assert deltas == {"basic_paid": D("13937.00"), "ci_base": D("6973.00")}


async def test_reference_changes_reach_the_next_settlement(hospital, admin_client, world):
    """The in-process cache (institutions, policies, catalog) is invalidated by admin writes."""
    await add_person(world, "P001")
    body = encounter("P001", [("NEW_DRUG", "2", "50.00")], med_type="11")
    first = await hospital.post("/v1/settlements/preview", json=body)
    assert first.json()["items"][0]["reason"] == "not_in_catalog"  # and now cached as absent
    r = await admin_client.put("/v1/catalogs/441900/items/NEW_DRUG",
                               json={"name": "新药", "category": "B", "self_pay_ratio": "0.20"})
    assert r.status_code == 201, r.text
    item = (await hospital.post("/v1/settlements/preview", json=body)).json()["items"][0]
    # B 20%: 100.00 → pre_self_pay 20.00, in_scope 80.00
    assert (item["reason"], item["category"], item["pre_self_pay"], item["in_scope"]) == (None, "B", "20.00", "80.00")
    r = await admin_client.put("/v1/institutions/H44190000001",
                               json={"name": "x", "kind": "hospital", "level": 3, "region": "441900", "active": False})
    assert r.status_code == 200, r.text
    problem(await hospital.post("/v1/settlements/preview", json=body), 403, "institution_inactive")


async def test_at_most_1000_lines(hospital, world):
    await add_person(world, "P001")
    lines = [("DRUG_A", "1", "1.00")] * 1001
    problem(await settle(hospital, encounter("P001", lines)), 422, "validation_error")
    r = await settle(hospital, encounter("P001", lines[:1000]), "k-1000")
    assert r.status_code == 201, r.text
    assert r.json()["totals"]["total"] == "1000.00"  # 1000 × 1.00
    assert await world.count("settlement_items") == 1000


async def test_account_pays_to_the_cent(pharmacy, world):
    """A regression: the balance delta was once typed integer by PostgreSQL (−118.25 → −118)."""
    await add_person(world, "EMP", insutype="310", balance="500.00")
    r = await settle(pharmacy, encounter("EMP", [("DRUG_A", "3", "45.50")], med_type="41"))
    t = r.json()["totals"]
    # 3 × 45.50 = 136.50; annual deductible 100.00; (136.50 − 100.00) × 50% = 18.25 basic;
    # personal 136.50 − 18.25 = 118.25, all from the account: 500.00 − 118.25 = 381.75
    assert (t["deductible"], t["basic_fund"], t["personal_account"], t["cash"]) == ("100.00", "18.25", "118.25", "0.00")
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id = 'EMP'") == D("381.75")
    sid = r.json()["settlement_id"]
    assert (await pharmacy.post(f"/v1/settlements/{sid}/reversal")).status_code == 201
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id = 'EMP'") == D("500.00")
