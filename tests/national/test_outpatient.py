"""The outpatient flow through the envelope: 1101 → 2201 → 2203 → 2204 → 2206 → 2207 → 2208,
compared with the native API's answer for the same encounter."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

pytestmark = pytest.mark.asyncio

RESIDENT = "P441900000001"  # Dongguan resident 390, no aid category, no personal account

#: 2204 lines (catalog of the demo world, Dongguan community level 1):
LINES = [
    # 普通门诊诊查费, A, cap 10.00: 12.00 billed → 10.00 in scope, 2.00 over the limit
    ("F1", "001101000010000", "1", "12.00"),
    # 阿托伐他汀钙片, A in Dongguan's own catalog: 2 × 30.00 = 60.00 in scope
    ("F2", "XC10AAA001A001010100", "2", "30.00"),
    # 六味地黄丸, B with 15% 先行自付: 40.00 → 6.00 pre-self-pay, 34.00 in scope
    ("F3", "ZA01AAA001A001010100", "1", "40.00"),
    # 复合维生素片, C: 8.00 full self-pay
    ("F4", "XA11XXA001A001010100", "1", "8.00"),
]


async def certno(db, person_id: str) -> str:
    return await db.fetchval("SELECT certno FROM persons WHERE person_id = $1", person_id)


def feedetail(mdtrt_id: str, psn_no: str, batch: str = "B1", lines=LINES) -> dict:
    return {"feedetail": [
        {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": batch, "rxno": "", "rx_circ_flag": "0",
         "fee_ocur_time": "2026-06-15 10:05:00", "med_list_codg": code, "medins_list_codg": "H-" + code,
         "det_item_fee_sumamt": str(D(cnt) * D(pric)), "cnt": cnt, "pric": pric, "bilg_dept_codg": "A01",
         "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "医生", "hosp_appr_flag": "1"}
        for sn, code, cnt, pric in lines
    ]}  # fmt: skip


async def register(his, db, person_id: str, *, med_type: str = "11", diagnoses=("I10",), dise_codg=None) -> str:
    cert = await certno(db, person_id)
    out = await his.ok("2201", {"data": {
        "psn_no": person_id, "insutype": None, "begntime": "2026-06-15 09:30:00", "mdtrt_cert_type": "02",
        "mdtrt_cert_no": cert, "ipt_otp_no": "MZ0001", "atddr_no": "D001", "dr_name": "医生", "dept_code": "A01",
        "dept_name": "内科", "caty": "A03"}})  # fmt: skip
    mdtrt_id = out["data"]["mdtrt_id"]
    assert out["data"]["psn_no"] == person_id and out["data"]["ipt_otp_no"] == "MZ0001"
    await his.ok("2203", {
        "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": person_id, "med_type": med_type,
                      "begntime": "2026-06-15 09:30:00", "dise_codg": dise_codg},
        "diseinfo": [{"diag_type": "1", "diag_srt_no": i + 1, "diag_code": code, "diag_name": "诊断",
                      "diag_dept": "内科", "dise_dor_no": "D001", "dise_dor_name": "医生",
                      "diag_time": "2026-06-15 09:40:00", "vali_flag": "1"} for i, code in enumerate(diagnoses)],
    })  # fmt: skip
    return mdtrt_id


def settle_data(mdtrt_id: str, psn_no: str, medfee, batch: str = "B1", acct: str = "1", insutype: str = "390") -> dict:
    return {"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": "x", "med_type": "11",
                     "medfee_sumamt": medfee, "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": batch,
                     "insutype": insutype, "acct_used_flag": acct}}  # fmt: skip


async def test_full_outpatient_flow(community, world, db, make_client, app):
    # 1101 by certno: the person, the resident enrollment, balance 0.00
    cert = await certno(db, RESIDENT)
    info = await community.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": cert, "psn_name": "x"}})
    assert info["baseinfo"]["psn_no"] == RESIDENT and info["baseinfo"]["certno"] == cert
    assert [(r["insutype"], r["balc"], r["insuplc_admdvs"]) for r in info["insuinfo"]] == [("390", D("0.00"), "441900")]
    assert await db.count("audit_log", "action = 'person.lookup'") == 1

    mdtrt_id = await register(community, db, RESIDENT)
    upload = await community.ok("2204", feedetail(mdtrt_id, RESIDENT))
    result = {r["feedetl_sn"]: r for r in upload["result"]}
    assert (result["F1"]["det_item_fee_sumamt"], result["F1"]["overlmt_amt"], result["F1"]["inscp_scp_amt"]) == (
        D("12.00"), D("2.00"), D("10.00"))
    assert (result["F3"]["preselfpay_amt"], result["F3"]["inscp_scp_amt"], result["F3"]["selfpay_prop"],
            result["F3"]["chrgitm_lv"]) == (D("6.00"), D("34.00"), D("0.15"), "02")  # fmt: skip
    assert (result["F4"]["fulamt_ownpay_amt"], result["F4"]["chrgitm_lv"], result["F4"]["selfpay_prop"]) == (
        D("8.00"), "03", D("1.00"))

    # 2206, with amounts as strings (as S7 sends them): total 12 + 60 + 40 + 8 = 120.00
    pre = await community.ok("2206", settle_data(mdtrt_id, RESIDENT, "120.00"))
    s = pre["setlinfo"]
    assert s["setl_id"] is None and s["setl_time"] is None
    # in scope 10 + 60 + 34 = 104.00; annual outpatient deductible 100.00; basic (104 − 100) × 60% = 2.40
    assert (s["medfee_sumamt"], s["fulamt_ownpay_amt"], s["overlmt_selfpay"], s["preselfpay_amt"], s["inscp_scp_amt"]) == (
        D("120.00"), D("8.00"), D("2.00"), D("6.00"), D("104.00"))
    assert (s["act_pay_dedc"], s["hifp_pay"], s["pool_prop_selfpay"], s["fund_pay_sumamt"]) == (
        D("100.00"), D("2.40"), D("0.60"), D("2.40"))
    # personal 120.00 − 2.40 = 117.60, all cash (no account)
    assert (s["psn_part_amt"], s["acct_pay"], s["psn_cash_pay"], s["balc"]) == (D("117.60"), D("0.00"), D("117.60"), D("0.00"))

    # the native preview of the same encounter gives the same numbers
    native = await make_client("institution", "C44190000001")
    body = {"person_id": RESIDENT, "encounter_id": mdtrt_id, "med_type": "11", "encounter_date": "2026-06-15",
            "diagnoses": ["I10"], "items": [{"line_no": i + 1, "code": c, "qty": q, "unit_price": p}
                                           for i, (_, c, q, p) in enumerate(LINES)]}  # fmt: skip
    r = await native.post("/v1/settlements/preview", json=body)
    assert r.status_code == 200, r.text
    t = r.json()["totals"]
    assert (D(t["total"]), D(t["basic_fund"]), D(t["cash"]), D(t["deductible"])) == (
        s["medfee_sumamt"], s["hifp_pay"], s["psn_cash_pay"], s["act_pay_dedc"])

    msgid = community.msgid()
    out = await community.ok("2207", settle_data(mdtrt_id, RESIDENT, D("120.00")), msgid=msgid)
    setl = out["setlinfo"]
    assert setl["setl_id"] and setl["medins_setl_id"] == msgid and setl["setl_time"] == "2026-06-15 10:00:00"
    assert {k: setl[k] for k in ("medfee_sumamt", "hifp_pay", "psn_cash_pay", "fund_pay_sumamt")} == {
        k: s[k] for k in ("medfee_sumamt", "hifp_pay", "psn_cash_pay", "fund_pay_sumamt")}
    assert setl["clr_type"] == "11" and setl["insutype"] == "390" and setl["mdtrt_id"] == mdtrt_id
    assert [(d["fund_pay_type"], d["fund_payamt"]) for d in out["setldetail"]] == [("390100", D("2.40"))]
    stored = (await native.get(f"/v1/settlements/{setl['setl_id']}")).json()
    assert (stored["encounter_id"], stored["totals"]["basic_fund"], stored["status"]) == (mdtrt_id, "2.40", "settled")

    # 2208: the same record negated, same setl_id
    rev = await community.ok("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": RESIDENT}})
    r2 = rev["setlinfo"]
    assert r2["setl_id"] == setl["setl_id"] and r2["medins_setl_id"] == msgid
    assert (r2["medfee_sumamt"], r2["hifp_pay"], r2["psn_cash_pay"], r2["inscp_scp_amt"], r2["balc"]) == (
        D("-120.00"), D("-2.40"), D("-117.60"), D("-104.00"), D("0.00"))
    assert r2["pool_prop_selfpay"] == D("0.60")
    assert [(d["fund_pay_type"], d["fund_payamt"]) for d in rev["setldetail"]] == [("390100", D("-2.40"))]
    stored = (await native.get(f"/v1/settlements/{setl['setl_id']}")).json()
    assert stored["status"] == "reversed"
    acc = await db.fetch("SELECT name, amount FROM accumulators WHERE person_id = $1", RESIDENT)
    assert {r["name"]: r["amount"] for r in acc if r["amount"]} == {}


async def register_disease(app, world, person_id: str, code: str) -> None:
    from tests.helpers import make_asgi_client

    async with make_asgi_client(app, world["institution:C44190000001"]) as certifier:
        r = await certifier.post(f"/v1/persons/{person_id}/special-disease-registrations",
                                 json={"disease_code": code, "valid_from": "2026-01-01", "valid_to": "2026-12-31",
                                       "sites": ["C44190000001"]})  # fmt: skip
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("where", ["2203", "2204"])
async def test_special_disease_outpatient(community, world, db, app, where):
    """门诊慢特病 14: the disease from 2203 mdtrtinfo.dise_codg, or from the 2204 batch."""
    from tests.national.flows import fee_rows, register

    await register_disease(app, world, RESIDENT, "M03900")
    mdtrt_id = await register(community, db, RESIDENT, med_type="14", dise_codg="M03900" if where == "2203" else None)
    rows = fee_rows(mdtrt_id, RESIDENT, [("F1", "XC08CAA001A001010100", "30", "1.00")])  # 硝苯地平, A, cap 1.20
    if where == "2204":
        rows[0]["dise_codg"] = "M03900"
    await community.ok("2204", {"feedetail": rows})
    out = await community.ok("2207", {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
                                               "insutype": "390", "med_type": "14", "medfee_sumamt": 30}})
    s = out["setlinfo"]
    # special outpatient rule: 75%, no deductible: 30.00 × 75% = 22.50
    assert (s["med_type"], s["hifp_pay"], s["pool_prop_selfpay"], s["act_pay_dedc"], s["clr_type"]) == (
        "14", D("22.50"), D("0.75"), D("0.00"), "11")
    cum = {r["cum_type_code"]: r["cum"] for r in (await community.ok("5206", {"data": {"psn_no": RESIDENT}}))["cuminfo"]}
    assert cum["TQ_DISE_M03900"] == D("22.50") and cum["D390100"] == D("22.50")


async def test_unregistered_special_disease_is_refused(community, world, db):
    from tests.national.flows import fee_rows, register

    mdtrt_id = await register(community, db, RESIDENT, med_type="14", dise_codg="M03900")
    await community.ok("2204", {"feedetail": fee_rows(mdtrt_id, RESIDENT, [("F1", "XC08CAA001A001010100", "30", "1.00")])})
    await community.refused("2206", {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "chrg_bchno": "B1"}},
                            "special_disease_not_registered")  # fmt: skip
    # without chrg_bchno (some HIS leave it out) every uploaded line of the encounter is settled
    await community.ok("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "med_type": "11"}, "diseinfo": []})
    out = await community.ok("2206", {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "med_type": "11"}})
    assert out["setlinfo"]["medfee_sumamt"] == D("30.00")
