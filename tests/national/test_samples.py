"""The reference's sample requests (V6–V10) replayed in the demo world, and every answer's
shape checked against the sample answers V1–V5 (and §9's 2201 / 2204 / 9001 samples)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.national import samples
from tests.national.flows import EMPLOYEE, RETIRED, certno, fee_rows, register
from tests.national.his import loads
from tests.national.scenarios import BIG, inpatient

pytestmark = pytest.mark.asyncio

H3 = "H44190000001"
LINES = [("F1", "XC10AAA001A001010100", "2", "30.00"), ("F2", "ZA01AAA001A001010100", "1", "40.00"),
         ("F3", "XA11XXA001A001010100", "1", "8.00")]  # fmt: skip


def v7_2206(mdtrt_id: str) -> dict:
    """V7 (南阳 2206, amounts as strings, a non-standard msgid) in the demo world."""
    return {"input": {"data": {"psn_no": EMPLOYEE, "mdtrt_cert_type": "02", "mdtrt_cert_no": "REDACTED",
                               "med_type": "11", "medfee_sumamt": "108.0", "psn_setlway": "01", "mdtrt_id": mdtrt_id,
                               "chrg_bchno": "B1", "acct_used_flag": "1", "insutype": "310"}},
            "infno": "2206", "msgid": "240704161004-H44190000001-0056", "insuplc_admdvs": "441900",
            "mdtrtarea_admvs": "441900", "recer_sys_code": "HIS", "cainfo": "", "dev_no": None, "dev_safe_info": None,
            "signtype": "SM3", "infver": "1.0", "opter_type": "1", "opter": "ADMIN", "opter_name": "系统管理员",
            "inf_time": "2026-06-15 10:00:00", "fixmedins_code": H3, "fixmedins_name": "东莞市人民医院",
            "sign_no": "410000202407030936260000001055"}  # fmt: skip


def v6_2207(mdtrt_id: str, setlinfo: dict) -> dict:
    """V6 (S1 SYB2207): the four amounts copied from the 2206 answer."""
    return {"data": {"psn_no": EMPLOYEE, "mdtrt_cert_type": "02", "mdtrt_cert_no": "REDACTED", "med_type": "11",
                     "medfee_sumamt": setlinfo["medfee_sumamt"], "psn_setlway": "01", "mdtrt_id": mdtrt_id,
                     "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1",
                     "fulamt_ownpay_amt": setlinfo["fulamt_ownpay_amt"], "overlmt_selfpay": setlinfo["overlmt_selfpay"],
                     "preselfpay_amt": setlinfo["preselfpay_amt"], "inscp_scp_amt": setlinfo["inscp_scp_amt"]}}


async def test_v6_v7_outpatient_and_shapes_of_v1_v2(hospital, world, db):
    out = loads(await hospital.post(hospital.envelope("2201", {"data": {
        "psn_no": EMPLOYEE, "insutype": "310", "begntime": "2026-06-15 09:30:00", "mdtrt_cert_type": "02",
        "mdtrt_cert_no": await certno(db, EMPLOYEE), "ipt_otp_no": "2111241810003", "atddr_no": "D1", "dr_name": "医生",
        "dept_code": "A01", "dept_name": "内科", "caty": "A03"}})))  # fmt: skip
    assert samples.same_shape(samples.parse(samples.R_2201), out) == []
    mdtrt_id = out["output"]["data"]["mdtrt_id"]
    up = loads(await hospital.post(hospital.envelope("2204", {"feedetail": fee_rows(mdtrt_id, EMPLOYEE, LINES)})))
    assert samples.same_shape(samples.parse(samples.R_2204), up) == []

    pre = loads(await hospital.post(v7_2206(mdtrt_id)))
    assert pre["infcode"] == 0, pre
    # 60.00 (A) + 40.00 (B, 6.00 先行自付) + 8.00 (C) = 108.00; employee 50%, no deductible:
    # basic (60 + 34) × 50% = 47.00
    assert (pre["output"]["setlinfo"]["medfee_sumamt"], pre["output"]["setlinfo"]["hifp_pay"]) == (D("108.00"), D("47.00"))
    v1 = samples.parse(samples.V1_2207)
    shape = {**v1, "output": {**v1["output"], "setlinfo": {k: v for k, v in v1["output"]["setlinfo"].items()
                                                           if k not in ("setl_id", "setl_time")}}}  # fmt: skip
    assert samples.same_shape(shape, pre) == []  # 2206 = 2207's fields, setl_id / setl_time null

    settled = loads(await hospital.post(hospital.envelope("2207", v6_2207(mdtrt_id, pre["output"]["setlinfo"]))))
    assert settled["infcode"] == 0, settled
    assert samples.same_shape(v1, settled) == []
    # 47.00 basic; personal 61.00 from the account (3000.00 → 2939.00)
    s = settled["output"]["setlinfo"]
    assert (s["acct_pay"], s["psn_cash_pay"], s["balc"]) == (D("61.00"), D("0.00"), D("2939.00"))

    reversed_ = loads(await hospital.post(hospital.envelope("2208", {"data": {
        "setl_id": s["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": EMPLOYEE}})))  # fmt: skip
    assert samples.same_shape(samples.parse(samples.V2_2208), reversed_) == []


async def test_inpatient_answers_have_the_shapes_of_v3_v4_v5(hospital, world, db):
    flow = await inpatient(hospital, db, RETIRED, "310", BIG)
    settled = {"infcode": 0, "inf_refmsgid": "", "refmsg_time": "", "respond_time": "", "enctype": "",
               "signtype": "", "err_msg": None, "output": flow["settle"]}  # fmt: skip
    v3 = samples.parse(samples.V3_2304)
    assert samples.same_shape(v3["output"], settled["output"]) == []
    assert set(samples.V4_2304_SETLINFO_KEYS) <= set(flow["settle"]["setlinfo"])
    rev = flow["reverse"]["setlinfo"]
    for name in samples.V5_2305_AMOUNTS:
        assert rev[name] == -flow["settle"]["setlinfo"][name] and (rev[name] < 0 or rev[name] == 0)
    assert rev["hifob_pay"] < 0  # the employee's 大额, as in V3 / V5


async def test_9001_has_the_sample_shape(hospital, world):
    answer = loads(await hospital.post(hospital.envelope("9001", {"signIn": {"opter_no": "001", "mac": "00-E0-70-64-C3-D2",
                                                                             "ip": "192.168.1.1"}})))  # fmt: skip
    assert samples.same_shape(samples.parse(samples.R_9001), answer) == []


async def settle_some(his, db) -> tuple[str, dict]:
    """One settled and one settled-then-reversed outpatient encounter of the employee."""
    ids = []
    for _ in range(2):
        mdtrt_id = await register(his, db, EMPLOYEE)
        await his.ok("2204", {"feedetail": fee_rows(mdtrt_id, EMPLOYEE, LINES)})
        out = await his.ok("2207", {"data": {"psn_no": EMPLOYEE, "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
                                             "insutype": "310", "acct_used_flag": "1", "med_type": "11"}})
        ids.append((mdtrt_id, out["setlinfo"]))
    await his.ok("2208", {"data": {"setl_id": ids[1][1]["setl_id"], "mdtrt_id": ids[1][0], "psn_no": EMPLOYEE}})
    return ids[0][1]["setl_id"], ids[0][1]


async def test_v8_v9_v10_3201_totals(hospital, world, db):
    _, setlinfo = await settle_some(hospital, db)
    # Records on 2026-06-15, insutype 310, clr_type 11: two settlements of 108.00 (fund 47.00,
    # account 61.00) and one reversal of the second: medfee 108 + 108 − 108 = 108.00, fund 47.00,
    # account 61.00, 3 records.
    v8 = {"cainfo": "", "dev_no": "", "dev_safe_info": "", "fixmedins_code": H3, "fixmedins_name": "东莞市人民医院",
          "inf_time": "2026-06-16 17:20:50", "infno": "3201", "infver": "1.0",
          "input": {"data": {"acct_pay": "61.00", "clr_type": "11", "fixmedins_setl_cnt": "3",
                             "fund_pay_sumamt": "47.00", "insutype": "310", "medfee_sumamt": "108.00",
                             "setl_optins": "441900", "stmt_begndate": "2026-06-01", "stmt_enddate": "2026-06-30"}},
          "insuplc_admdvs": "440000", "mdtrtarea_admvs": "441900", "msgid": "H44190000001202606161720507294",
          "opter": "ADMIN", "opter_name": "系统管理员", "opter_type": "1", "recer_sys_code": "HIS", "sign_no": "",
          "signtype": "SM3"}  # fmt: skip
    answer = loads(await hospital.post(v8))
    assert answer["infcode"] == 0, answer
    assert answer["output"]["stmtinfo"] == {"setl_optins": "441900", "stmt_rslt": "0", "stmt_rslt_dscr": "对平"}

    # V9 (numbers, one day): the institution counts one record fewer → the centre has more
    v9 = {"data": {"insutype": "310", "clr_type": "11", "setl_optins": "441900", "stmt_begndate": "2026-06-15",
                   "stmt_enddate": "2026-06-15", "medfee_sumamt": D("108.00"), "fund_pay_sumamt": D("47.00"),
                   "acct_pay": D("61.00"), "fixmedins_setl_cnt": 2}}  # fmt: skip
    assert (await hospital.ok("3201", v9))["stmtinfo"]["stmt_rslt"] == "1"
    # V10 (S3m: refd_setl_flag "" and an empty setl_optins): "" includes reversals, any region
    v10 = {"data": {**v9["data"], "setl_optins": "", "refd_setl_flag": "", "fixmedins_setl_cnt": 3}}
    assert (await hospital.ok("3201", v10))["stmtinfo"]["stmt_rslt"] == "0"
    # refd_setl_flag "0": without the reversal record, the centre sums 216.00 / 94.00 / 122.00 over 2
    without = {"data": {**v10["data"], "refd_setl_flag": "0", "medfee_sumamt": "216.00", "fund_pay_sumamt": "94.00",
                        "acct_pay": "122.00", "fixmedins_setl_cnt": 2}}  # fmt: skip
    assert (await hospital.ok("3201", without))["stmtinfo"]["stmt_rslt"] == "0"
    # the institution claims more money: 医药机构多
    more = {"data": {**v10["data"], "medfee_sumamt": "200.00"}}
    assert (await hospital.ok("3201", more))["stmtinfo"] == {"setl_optins": "", "stmt_rslt": "2", "stmt_rslt_dscr": "医药机构多"}
    # another insured region has no records: every institution figure is more → 2; mixed → 3
    other = {"data": {**v10["data"], "setl_optins": "442000"}}
    assert (await hospital.ok("3201", other))["stmtinfo"]["stmt_rslt"] == "2"
    mixed = {"data": {**v10["data"], "medfee_sumamt": "1.00", "fixmedins_setl_cnt": 9}}
    assert (await hospital.ok("3201", mixed))["stmtinfo"]["stmt_rslt"] == "3"
    assert setlinfo["clr_type"] == "11"
