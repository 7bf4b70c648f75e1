"""Message builders shared by the national tests (demo world, Dongguan)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

#: Dongguan demo persons (app/demo/world.py)
RESIDENT = "P441900000001"  # 390, no aid, balance 0
MINIMUM_LIVING = "P441900000003"  # 390, 低保
EMPLOYEE = "P441900000007"  # 310 at work, balance 3000.00
RETIRED = "P441900000008"  # 310 retired, supplementary, balance 8000.00


async def certno(db, person_id: str) -> str:
    return await db.fetchval("SELECT certno FROM persons WHERE person_id = $1", person_id)


def fee_rows(mdtrt_id: str, psn_no: str, lines: list[tuple], batch: str | None = "B1") -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        sn, code, cnt, pric, *rest = line
        row = {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "fee_ocur_time": "2026-06-15 10:05:00",
               "med_list_codg": code, "medins_list_codg": "H-" + code, "det_item_fee_sumamt": str(D(cnt) * D(pric)),
               "cnt": cnt, "pric": pric, "bilg_dept_codg": "A01", "bilg_dept_name": "内科", "bilg_dr_codg": "D001",
               "bilg_dr_name": "医生", "hosp_appr_flag": "1"}  # fmt: skip
        if batch is not None:
            row.update(chrg_bchno=batch, rxno="", rx_circ_flag="0")
        else:
            row.update(med_type="21", drord_no="", memo="")
        if rest:
            row["init_feedetl_sn"] = rest[0]
        rows.append(row)
    return rows


async def register(his, db, person_id: str, *, med_type: str = "11", diagnoses=("I10",), dise_codg=None) -> str:
    out = await his.ok("2201", {"data": {
        "psn_no": person_id, "insutype": None, "begntime": "2026-06-15 09:30:00", "mdtrt_cert_type": "02",
        "mdtrt_cert_no": await certno(db, person_id), "ipt_otp_no": "MZ0001", "atddr_no": "D001", "dr_name": "医生",
        "dept_code": "A01", "dept_name": "内科", "caty": "A03"}})  # fmt: skip
    mdtrt_id = out["data"]["mdtrt_id"]
    await his.ok("2203", {
        "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": person_id, "med_type": med_type,
                      "begntime": "2026-06-15 09:30:00", "dise_codg": dise_codg},
        "diseinfo": [{"diag_type": "1", "diag_srt_no": i + 1, "diag_code": code, "diag_name": "诊断",
                      "diag_dept": "内科", "dise_dor_no": "D001", "dise_dor_name": "医生",
                      "diag_time": "2026-06-15 09:40:00", "vali_flag": "1"} for i, code in enumerate(diagnoses)],
    })  # fmt: skip
    return mdtrt_id


def settle_data(mdtrt_id: str, psn_no: str, medfee: Any, *, batch: str | None = "B1", acct: str = "1",
                insutype: str = "390", med_type: str = "11") -> dict[str, Any]:  # fmt: skip
    data = {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": "x", "med_type": med_type,
            "medfee_sumamt": medfee, "psn_setlway": "01", "mdtrt_id": mdtrt_id, "insutype": insutype,
            "acct_used_flag": acct}  # fmt: skip
    if batch is not None:
        data["chrg_bchno"] = batch
    else:
        data["mid_setl_flag"] = "0"
    return {"data": data}


async def admit(his, db, person_id: str, *, diagnoses=("I21.0",), insutype: str = "390") -> str:
    out = await his.ok("2401", {
        "mdtrtinfo": {"psn_no": person_id, "insutype": insutype, "coner_name": "家属", "tel": "", "begntime":
                      "2026-06-10 08:00:00", "mdtrt_cert_type": "02", "mdtrt_cert_no": await certno(db, person_id),
                      "med_type": "21", "ipt_no": "ZY0001", "atddr_no": "D001", "chfpdr_name": "医生",
                      "adm_diag_dscr": "急性心梗", "adm_dept_codg": "A03", "adm_dept_name": "心内科", "adm_bed": "12",
                      "dscg_maindiag_code": diagnoses[0], "dscg_maindiag_name": "急性心梗"},
        "diseinfo": [{"psn_no": person_id, "diag_type": "1", "maindiag_flag": "1" if i == 0 else "0",
                      "diag_srt_no": i + 1, "diag_code": code, "diag_name": "诊断", "diag_dept": "心内科",
                      "dise_dor_no": "D001", "dise_dor_name": "医生", "diag_time": "2026-06-10 08:30:00"}
                     for i, code in enumerate(diagnoses)],
    })  # fmt: skip
    return out["result"]["mdtrt_id"]


def native_body(person_id: str, encounter_id: str, lines: list[tuple], **extra: Any) -> dict[str, Any]:
    """The same encounter as a native ``POST /v1/settlements/preview`` body."""
    return {"person_id": person_id, "encounter_id": encounter_id,
            "items": [{"line_no": i + 1, "code": c, "qty": q, "unit_price": p} for i, (_, c, q, p, *_) in
                      enumerate(lines)], **extra}  # fmt: skip


#: setlinfo amounts and the native totals they come from (api.md).
SETLINFO_FROM_TOTALS = {
    "medfee_sumamt": "total", "fulamt_ownpay_amt": "self_pay_full", "overlmt_selfpay": "over_limit",
    "preselfpay_amt": "pre_self_pay", "inscp_scp_amt": "in_scope", "act_pay_dedc": "deductible",
    "hifp_pay": "basic_fund", "maf_pay": "medical_aid", "fund_pay_sumamt": "fund_total",
    "psn_part_amt": "personal_total", "acct_pay": "personal_account", "psn_cash_pay": "cash",
}  # fmt: skip


def assert_matches_native(setlinfo: dict[str, Any], totals: dict[str, str], insutype: str) -> None:
    for ours, native in SETLINFO_FROM_TOTALS.items():
        assert setlinfo[ours] == D(totals[native]), (ours, setlinfo[ours], totals[native])
    ci = D(totals["critical_illness"])
    assert (setlinfo["hifmi_pay"], setlinfo["hifob_pay"]) == ((ci, D("0.00")) if insutype == "390" else (D("0.00"), ci))
    assert setlinfo["oth_pay"] == D(totals["secondary_aid"]) + D(totals["fallback"])
