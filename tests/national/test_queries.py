"""5206 累计信息 (only for a person the caller registered) and 3201 records dated in China time."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.national.flows import EMPLOYEE, RESIDENT, fee_rows, register
from tests.national.scenarios import HUGE, inpatient

pytestmark = pytest.mark.asyncio

LINES = [("F1", "XC10AAA001A001010100", "2", "30.00"), ("F2", "001101000010000", "1", "10.00")]


async def test_5206_needs_a_registered_encounter(hospital, world, db):
    await hospital.refused("5206", {"data": {"psn_no": EMPLOYEE}}, "credential_required")
    mdtrt_id = await register(hospital, db, EMPLOYEE)
    await hospital.ok("2204", {"feedetail": fee_rows(mdtrt_id, EMPLOYEE, LINES)})
    await hospital.ok("2207", {"data": {"psn_no": EMPLOYEE, "mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "insutype": "310"}})
    out = await hospital.ok("5206", {"data": {"psn_no": EMPLOYEE, "cum_ym": "202606"}})
    cum = {r["cum_type_code"]: r["cum"] for r in out["cuminfo"]}
    # 70.00 in scope at 50% (no deductible): basic 35.00, the other 35.00 from the account
    assert (cum["D310100"], cum["D330100"], cum["D310200"], cum["D610100"], cum["D999997"]) == (
        D("35.00"), D("0.00"), D("35.00"), D("0.00"), D("0.00"))
    # the outpatient limit group moved by the basic payment; the deductible (0.00) did not
    assert cum["TQ_LMT_general_outpatient"] == D("35.00") and "TQ_DEDC_outpatient" not in cum
    assert {r["insutype"] for r in out["cuminfo"]} == {"310"} and {r["year"] for r in out["cuminfo"]} == {"2026"}


async def test_5206_of_a_resident_with_critical_illness(hospital, his_factory, world, db):
    flow = await inpatient(hospital, db, "P441900000003", "390", HUGE)  # settled, then reversed
    mdtrt_id = flow["settle"]["setlinfo"]["mdtrt_id"]
    community = his_factory("C44190000001")  # registered nothing with this person
    await community.refused("5206", {"data": {"psn_no": "P441900000003"}}, "credential_required")
    out = await hospital.ok("5206", {"data": {"psn_no": "P441900000003"}})
    cum = {r["cum_type_code"]: r["cum"] for r in out["cuminfo"]}
    # after the reversal every accumulator is back to zero
    assert cum["D390100"] == cum["D390200"] == cum["D610100"] == cum["TS_CI_BASE"] == D("0.00")

    # settled again (a new msgid): the year's figures are this settlement's
    s = (await hospital.ok("2304", {"data": {"psn_no": "P441900000003", "mdtrt_id": mdtrt_id, "insutype": "390"}}))[
        "setlinfo"]
    cum = {r["cum_type_code"]: r["cum"] for r in (await hospital.ok("5206", {"data": {"psn_no": "P441900000003"}}))[
        "cuminfo"]}
    assert s["hifmi_pay"] > 0 and cum["TS_CI_BASE"] > 0
    assert (cum["D390100"], cum["D390200"], cum["D610100"], cum["D310200"]) == (
        s["hifp_pay"], s["hifmi_pay"], s["maf_pay"], D("0.00"))
    assert cum["D610102"] + cum["D999997"] == s["oth_pay"]


async def test_3201_dates_records_in_china_time(hospital, world, db, clock):
    import datetime as dt

    from app.kit.clock import CST

    mdtrt_id = await register(hospital, db, RESIDENT)
    await hospital.ok("2204", {"feedetail": fee_rows(mdtrt_id, RESIDENT, LINES)})
    clock.t = dt.datetime(2026, 6, 30, 23, 30, tzinfo=CST)  # 15:30 UTC: still 30 June in China
    out = await hospital.ok("2207", {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
                                              "insutype": "390", "med_type": "11"}})  # fmt: skip
    total = out["setlinfo"]["medfee_sumamt"]
    clock.t = dt.datetime(2026, 7, 1, 0, 10, tzinfo=CST)  # 30 June 16:10 UTC, 1 July in China
    await hospital.ok("2208", {"data": {"setl_id": out["setlinfo"]["setl_id"], "mdtrt_id": mdtrt_id}})

    def query(begin: str, end: str, medfee, count: int) -> dict:
        return {"data": {"insutype": "390", "clr_type": "11", "setl_optins": "441900", "stmt_begndate": begin,
                         "stmt_enddate": end, "medfee_sumamt": medfee, "fund_pay_sumamt": "0",
                         "acct_pay": "0", "fixmedins_setl_cnt": count}}  # fmt: skip

    # June: the settlement's record (70.00, one record); July: the reversal's (−70.00, one record)
    assert total == D("70.00")
    assert (await hospital.ok("3201", query("2026-06-01", "2026-06-30", "70.00", 1)))["stmtinfo"]["stmt_rslt"] == "0"
    assert (await hospital.ok("3201", query("2026-07-01", "2026-07-31", "-70.00", 1)))["stmtinfo"]["stmt_rslt"] == "0"
    assert (await hospital.ok("3201", query("2026-06-01", "2026-07-31", "0", 2)))["stmtinfo"]["stmt_rslt"] == "0"
