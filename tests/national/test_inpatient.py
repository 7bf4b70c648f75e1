"""The inpatient flow through the envelope: 2401 → 2301 (with a refund line) → 2402 → 2303 →
2304 → 2305, each amount equal to the native API's answer for the same encounter."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.national.flows import MINIMUM_LIVING, admit, assert_matches_native, fee_rows, native_body, settle_data

pytestmark = pytest.mark.asyncio

H3 = "H44190000001"
LINES = [
    # 床位费: Dongguan's own item, A, cap 50.00: 10 days × 60.00 = 600.00 billed
    ("Z1", "001102000010000", "10", "60.00"),
    # 经皮冠状动脉支架置入术: B 10%, cap 5000, level ≥ 3, inpatient only: 5000.00 → 500.00 先行自付
    ("Z2", "331501001000000", "1", "5000.00"),
    # 药物洗脱冠脉支架: B 30%, cap 800.00: 1000.00 billed → 200.00 over the limit, 240.00 先行自付
    ("Z3", "C0301010010000001", "1", "1000.00"),
]
#: a refund of 2 bed days (init_feedetl_sn Z1, cnt −2)
REFUND = [("Z4", "001102000010000", "-2", "60.00", "Z1")]
#: what is settled: the bed line netted to 8 days
NET = [("Z1", "001102000010000", "8", "60.00"), LINES[1], LINES[2]]


async def test_full_inpatient_flow(hospital, world, db, make_client):
    mdtrt_id = await admit(hospital, db, MINIMUM_LIVING)
    up = await hospital.ok("2301", {"feedetail": fee_rows(mdtrt_id, MINIMUM_LIVING, LINES, batch=None)})
    assert [r["feedetl_sn"] for r in up["result"]] == ["Z1", "Z2", "Z3"]
    bed = up["result"][0]
    # 600.00 billed at the 50.00 cap: 500.00 in scope, 100.00 over the limit
    assert (bed["det_item_fee_sumamt"], bed["overlmt_amt"], bed["inscp_scp_amt"], bed["pric_uplmt_amt"]) == (
        D("600.00"), D("100.00"), D("500.00"), D("50"))
    refund = await hospital.ok("2301", {"feedetail": fee_rows(mdtrt_id, MINIMUM_LIVING, REFUND, batch=None)})
    # the refund line answers negative amounts: −120.00 billed, −20.00 over, −100.00 in scope
    assert (refund["result"][0]["det_item_fee_sumamt"], refund["result"][0]["inscp_scp_amt"]) == (D("-120.00"), D("-100.00"))
    await hospital.ok("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": MINIMUM_LIVING, "insutype": "390",
                                            "endtime": "2026-06-15 09:00:00", "dscg_dept_codg": "A03",
                                            "dscg_dept_name": "心内科", "dscg_way": "1"}})  # fmt: skip

    # total 480 + 5000 + 1000 = 6480.00
    pre = (await hospital.ok("2303", settle_data(mdtrt_id, MINIMUM_LIVING, "6480.00", batch=None, med_type="21")))
    s = pre["setlinfo"]
    # in scope 400 + 4500 + 560 = 5460.00; over 80 + 200 = 280.00; pre 500 + 240 = 740.00
    assert (s["medfee_sumamt"], s["inscp_scp_amt"], s["overlmt_selfpay"], s["preselfpay_amt"]) == (
        D("6480.00"), D("5460.00"), D("280.00"), D("740.00"))
    # level-3 resident rule: deductible 1000.00, basic (5460 − 1000) × 70% = 3122.00
    assert (s["act_pay_dedc"], s["hifp_pay"], s["pool_prop_selfpay"]) == (D("1000.00"), D("3122.00"), D("0.70"))

    native = await make_client("institution", H3)
    r = await native.post("/v1/settlements/preview", json=native_body(
        MINIMUM_LIVING, mdtrt_id, NET, med_type="21", encounter_date="2026-06-15", admission_date="2026-06-10",
        diagnoses=["I21.0"]))  # fmt: skip
    assert r.status_code == 200, r.text
    assert_matches_native(s, r.json()["totals"], "390")
    assert s["maf_pay"] > 0  # 低保: medical aid paid part of the personal burden

    msgid = hospital.msgid()
    out = await hospital.ok("2304", settle_data(mdtrt_id, MINIMUM_LIVING, D("6480.00"), batch=None, med_type="21"),
                            msgid=msgid)  # fmt: skip
    setl = out["setlinfo"]
    assert setl["clr_type"] == "21" and setl["medins_setl_id"] == msgid
    assert_matches_native(setl, r.json()["totals"], "390")
    codes = [d["fund_pay_type"] for d in out["setldetail"]]
    assert codes[0] == "390100" and "610100" in codes
    stored = (await native.get(f"/v1/settlements/{setl['setl_id']}")).json()
    assert (stored["encounter_date"], stored["med_type"]) == ("2026-06-15", "21")  # the discharge date

    # lines cannot change under a live settlement
    await hospital.refused("2302", {"data": {"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": MINIMUM_LIVING}},
                           "encounter_already_settled")  # fmt: skip

    rev = await hospital.ok("2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": setl["setl_id"], "psn_no": MINIMUM_LIVING}})
    for name in ("medfee_sumamt", "hifp_pay", "maf_pay", "fund_pay_sumamt", "psn_cash_pay", "inscp_scp_amt"):
        assert rev["setlinfo"][name] == -setl[name]
    assert [d["fund_payamt"] for d in rev["setldetail"]] == [-d["fund_payamt"] for d in out["setldetail"]]

    # with the settlement reversed, the lines may be undone and the admission with them
    await hospital.ok("2302", {"data": {"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": MINIMUM_LIVING}})
    await hospital.ok("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": MINIMUM_LIVING}})
    await hospital.ok("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": MINIMUM_LIVING}})
    await hospital.refused("2303", settle_data(mdtrt_id, MINIMUM_LIVING, None, batch=None, med_type="21"),
                           "encounter_not_found")  # fmt: skip


async def test_not_discharged_settles_on_the_message_date(hospital, world, db):
    mdtrt_id = await admit(hospital, db, MINIMUM_LIVING)
    await hospital.ok("2301", {"feedetail": fee_rows(mdtrt_id, MINIMUM_LIVING, LINES[:1], batch=None)})
    out = await hospital.ok("2304", settle_data(mdtrt_id, MINIMUM_LIVING, None, batch=None, med_type="21"),
                            inf_time="2026-06-14 16:00:00")  # fmt: skip
    stored = await db.fetchrow("SELECT encounter_date FROM settlements WHERE settlement_id = $1::uuid",
                               out["setlinfo"]["setl_id"])  # fmt: skip
    assert str(stored["encounter_date"]) == "2026-06-14"


async def test_medfee_sumamt_must_be_the_uploaded_total(hospital, world, db):
    mdtrt_id = await admit(hospital, db, MINIMUM_LIVING)
    await hospital.ok("2301", {"feedetail": fee_rows(mdtrt_id, MINIMUM_LIVING, LINES[:1], batch=None)})
    err = await hospital.refused("2304", settle_data(mdtrt_id, MINIMUM_LIVING, "601.00", batch=None), "medfee_sumamt_mismatch")
    assert "600.00" in err
    assert await db.count("settlements") == 0


async def test_2302_as_a_list_and_input_as_text(hospital, world, db):
    import json

    mdtrt_id = await admit(hospital, db, MINIMUM_LIVING)
    await hospital.ok("2301", {"feedetail": fee_rows(mdtrt_id, MINIMUM_LIVING, LINES, batch=None)})
    await hospital.ok("2302", {"data": [{"feedetl_sn": "Z1", "mdtrt_id": mdtrt_id, "psn_no": MINIMUM_LIVING},
                                        {"feedetl_sn": "Z3", "mdtrt_id": mdtrt_id, "psn_no": MINIMUM_LIVING}]})
    assert [r["feedetl_sn"] for r in await db.fetch("SELECT feedetl_sn FROM national_fee_lines")] == ["Z2"]
    await hospital.refused("2302", {"data": {"feedetl_sn": "Z9", "mdtrt_id": mdtrt_id}}, "fee_line_not_found")
    # the input node sent as JSON text
    body = hospital.envelope("2302", {})
    body["input"] = json.dumps({"data": {"feedetl_sn": "0000", "mdtrt_id": mdtrt_id}})
    assert (await hospital.post(body)).json()["infcode"] == 0
    assert await db.count("national_fee_lines") == 0


async def test_2403_changes_the_admission_diagnoses(hospital, world, db, make_client):
    mdtrt_id = await admit(hospital, db, MINIMUM_LIVING, diagnoses=("J18.9",))
    # 吉非替尼片 is restricted to lung cancer (C34): not covered under J18.9
    gefitinib = [("G1", "XL01XEG001A001010100", "30", "1.50")]
    up = await hospital.ok("2301", {"feedetail": fee_rows(mdtrt_id, MINIMUM_LIVING, gefitinib, batch=None)})
    assert (up["result"][0]["memo"], up["result"][0]["inscp_scp_amt"]) == ("restricted", D("0.00"))
    await hospital.ok("2403", {"adminfo": {"mdtrt_id": mdtrt_id, "ipt_otp_no": "ZY0001", "med_type": "21"},
                               "diseinfo": [{"diag_type": "1", "maindiag_flag": "1", "diag_srt_no": 1,
                                             "diag_code": "C34.1", "diag_name": "肺癌", "diag_dept": "A",
                                             "dise_dor_no": "D", "dise_dor_name": "D", "diag_time": "2026-06-11 08:00:00"}]})
    pre = await hospital.ok("2303", settle_data(mdtrt_id, MINIMUM_LIVING, "45.00", batch=None, med_type="21"))
    # now covered: Guangdong's entry (B, 5%, cap 1.80): 45.00 billed, 2.25 先行自付, 42.75 in scope
    assert (pre["setlinfo"]["preselfpay_amt"], pre["setlinfo"]["inscp_scp_amt"]) == (D("2.25"), D("42.75"))
