"""Retries, 2601 冲正, refusals as infcode −1, auth as HTTP, envelope leniency."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import make_asgi_client
from tests.national.flows import EMPLOYEE, RESIDENT, certno, fee_rows, register, settle_data
from tests.national.his import PATH, His, loads

pytestmark = pytest.mark.asyncio

H3 = "H44190000001"
# 阿托伐他汀钙片 (A in Dongguan) 2 × 30.00 + 普通门诊诊查费 10.00 (at its cap): 70.00 in scope
LINES = [("F1", "XC10AAA001A001010100", "2", "30.00"), ("F2", "001101000010000", "1", "10.00")]


async def employee_visit(his, db) -> str:
    """An employee's outpatient visit at the level-3 hospital, fees uploaded."""
    mdtrt_id = await register(his, db, EMPLOYEE)
    await his.ok("2204", {"feedetail": fee_rows(mdtrt_id, EMPLOYEE, LINES)})
    return mdtrt_id


async def test_a_retried_2207_is_the_same_answer(hospital, world, db):
    mdtrt_id = await employee_visit(hospital, db)
    msgid = hospital.msgid()
    body = settle_data(mdtrt_id, EMPLOYEE, "70.00", insutype="310")
    first = await hospital.call("2207", body, msgid)
    assert first["infcode"] == 0, first
    s = first["output"]["setlinfo"]
    # employee outpatient at a hospital: 50%, no deductible: basic 70.00 × 50% = 35.00; the other
    # 35.00 from the personal account (balance 3000.00 → 2965.00)
    assert (s["hifp_pay"], s["acct_pay"], s["psn_cash_pay"], s["balc"]) == (D("35.00"), D("35.00"), D("0.00"), D("2965.00"))
    assert [(d["fund_pay_type"], d["fund_payamt"]) for d in first["output"]["setldetail"]] == [
        ("310100", D("35.00")), ("310200", D("35.00"))]

    # The answer was lost; the HIS sends the same message again (a new inf_time): the same output.
    again = await hospital.call("2207", body, msgid, inf_time="2026-06-15 10:01:00")
    assert again["infcode"] == 0 and again["output"] == first["output"]
    assert await db.count("settlements") == 1
    assert await db.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", EMPLOYEE) == D("2965.00")

    # The same msgid with other content is refused.
    await hospital.refused("2207", settle_data(mdtrt_id, EMPLOYEE, "70.00", insutype="310", acct="0"),
                           "idempotency_key_reused", msgid=msgid)  # fmt: skip
    # Another msgid for the settled encounter: one live settlement per mdtrt_id.
    await hospital.refused("2207", body, "encounter_already_settled")


async def test_2601_after_a_timeout_reverses_what_the_2207_settled(hospital, world, db):
    mdtrt_id = await employee_visit(hospital, db)
    msgid = hospital.msgid()
    # The 2207 is processed, but its answer never reaches the HIS (simulated timeout).
    lost = await hospital.call("2207", settle_data(mdtrt_id, EMPLOYEE, "70.00", insutype="310"), msgid)
    assert lost["infcode"] == 0
    setl_id = lost["output"]["setlinfo"]["setl_id"]

    correction = {"data": {"psn_no": EMPLOYEE, "omsgid": msgid, "oinfno": "2207"}}
    c_msgid = hospital.msgid()
    out = await hospital.ok("2601", correction, msgid=c_msgid)
    r = out["setlinfo"]
    assert (r["setl_id"], r["medins_setl_id"]) == (setl_id, msgid)
    assert (r["medfee_sumamt"], r["hifp_pay"], r["acct_pay"], r["balc"]) == (
        D("-70.00"), D("-35.00"), D("-35.00"), D("3000.00"))
    assert await db.fetchval("SELECT status FROM settlements WHERE settlement_id = $1::uuid", setl_id) == "reversed"
    assert await db.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", EMPLOYEE) == D("3000.00")
    # the 2601 retried: the same answer, nothing more moves
    assert await hospital.ok("2601", correction, msgid=c_msgid) == out
    # the encounter can be settled again under a new msgid
    again = await hospital.ok("2207", settle_data(mdtrt_id, EMPLOYEE, "70.00", insutype="310"))
    assert again["setlinfo"]["setl_id"] != setl_id


async def test_2601_for_a_message_that_settled_nothing_changes_nothing(hospital, world, db):
    await employee_visit(hospital, db)
    before = await db.counts()
    out = await hospital.ok("2601", {"data": {"psn_no": EMPLOYEE, "omsgid": "H44190000001202606150000009999",
                                              "oinfno": "2207"}})  # fmt: skip
    assert out == {}
    after = await db.counts()
    assert {k: v for k, v in after.items() if k != "national_messages"} == {
        k: v for k, v in before.items() if k != "national_messages"}
    await hospital.refused("2601", {"data": {"psn_no": EMPLOYEE, "omsgid": "x", "oinfno": "2208"}}, "not_reversible")


async def test_2601_of_a_registration_and_of_an_upload(hospital, world, db):
    msgid = hospital.msgid()
    out = await hospital.ok("2201", {"data": {"psn_no": RESIDENT, "begntime": "2026-06-15 09:00:00",
                                              "mdtrt_cert_type": "02", "mdtrt_cert_no": await certno(db, RESIDENT),
                                              "ipt_otp_no": "1"}}, msgid=msgid)  # fmt: skip
    mdtrt_id = out["data"]["mdtrt_id"]
    up = hospital.msgid()
    await hospital.ok("2204", {"feedetail": fee_rows(mdtrt_id, RESIDENT, LINES)}, msgid=up)
    await hospital.ok("2601", {"data": {"psn_no": RESIDENT, "omsgid": up, "oinfno": "2204"}})
    assert await db.count("national_fee_lines") == 0
    await hospital.ok("2601", {"data": {"psn_no": RESIDENT, "omsgid": msgid, "oinfno": "2201"}})
    assert await db.fetchval("SELECT status FROM national_encounters") == "cancelled"


async def test_refusals_are_infcode_minus_one_without_personal_data(hospital, world, db):
    await hospital.refused("2207", settle_data("NOPE", EMPLOYEE, 1), "encounter_not_found")
    cert = await certno(db, EMPLOYEE)
    wrong = cert[:-1] + ("0" if cert[-1] != "0" else "1")
    err = await hospital.refused("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": wrong}}, "person_not_found")
    assert wrong not in err
    err = await hospital.refused("2201", {"data": {"psn_no": RESIDENT, "begntime": "2026-06-15 09:00:00",
                                                   "mdtrt_cert_type": "02", "mdtrt_cert_no": cert}}, "person_mismatch")
    assert cert not in err and RESIDENT not in err
    answer = await hospital.call("9999", {"data": {}})
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("unsupported_infno: ")
    assert answer["output"] == {}
    await hospital.refused("2201", {"data": {"psn_no": RESIDENT}}, "validation_error")


async def test_unknown_fields_strings_and_numbers(hospital, world, db):
    body = hospital.envelope("1101", {"data": {"mdtrt_cert_type": 2, "mdtrt_cert_no": await certno(db, EMPLOYEE),
                                               "unknown": {"x": 1}}}, extra_header="ignored")  # fmt: skip
    answer = loads(await hospital.post(body))
    assert answer["infcode"] == 0, answer
    assert answer["output"]["insuinfo"][0]["balc"] == D("3000.00")
    assert '"balc":3000.00' in (await hospital.post(body)).text  # a JSON number with two decimals


async def test_malformed_bodies_answer_infcode_minus_one(hospital, world):
    for raw in (b"{not json", b"[]", b""):
        answer = loads(await hospital.post(raw))
        assert answer["infcode"] == -1 and answer["err_msg"].startswith("malformed_body: "), answer
    answer = loads(await hospital.post(b'{"infno": "1101", "fixmedins_code": "H44190000001"}'))
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("validation_error: envelope.msgid")


async def test_auth_stays_http(app, world, hospital):
    body = hospital.envelope("9001", {"signIn": {"opter_no": "001", "mac": "00-00", "ip": "10.0.0.1"}})
    async with make_asgi_client(app) as anonymous:
        assert (await anonymous.post(PATH, json=body)).status_code == 401
    async with make_asgi_client(app, world["ops"]) as ops:
        assert (await ops.post(PATH, json=body)).status_code == 403
    other = hospital.envelope("9001", body["input"], fixmedins_code="H44190000002")
    r = await hospital.post(other)
    assert r.status_code == 403 and r.json()["code"] == "institution_mismatch"
    async with make_asgi_client(app, world["institution:H44190000009"]) as closed:
        r = await His(closed, "H44190000009").post(His(closed, "H44190000009").envelope("9001", body["input"]))
        assert r.status_code == 403 and r.json()["code"] == "institution_inactive"
    big = hospital.envelope("9001", {"signIn": {"opter_no": "x" * (1024 * 1024)}})
    r = await hospital.post(big)
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    out = await hospital.ok("9001", body["input"])
    assert len(out["signinoutb"]["sign_no"]) == 30 and out["signinoutb"]["sign_time"] == "2026-06-15 10:00:00"


async def test_a_2207_and_its_retry_racing_settle_once(hospital, world, db):
    import asyncio

    mdtrt_id = await employee_visit(hospital, db)
    msgid = hospital.msgid()
    body = settle_data(mdtrt_id, EMPLOYEE, "70.00", insutype="310")
    answers = await asyncio.gather(*(hospital.call("2207", body, msgid) for _ in range(4)))
    ok = [a for a in answers if a["infcode"] == 0]
    # every answer that settled is the same record; a loser may only be told to retry
    assert ok and all(a["output"] == ok[0]["output"] for a in ok)
    assert all(a["err_msg"].startswith("request_in_progress: ") for a in answers if a["infcode"] != 0)
    assert await db.count("settlements") == 1
    assert await db.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", EMPLOYEE) == D("2965.00")
    assert (await hospital.call("2207", body, msgid))["output"] == ok[0]["output"]


async def test_a_line_not_in_the_catalog(hospital, world, db):
    mdtrt_id = await register(hospital, db, EMPLOYEE)
    out = await hospital.ok("2204", {"feedetail": fee_rows(mdtrt_id, EMPLOYEE, [("X1", "LOCAL-ONLY-001", "1", "15.50")])})
    row = out["result"][0]
    assert (row["fulamt_ownpay_amt"], row["inscp_scp_amt"], row["chrgitm_lv"], row["memo"], row["selfpay_prop"]) == (
        D("15.50"), D("0.00"), "03", "not_in_catalog", D("1.00"))
    await hospital.refused("2204", {"feedetail": fee_rows(mdtrt_id, EMPLOYEE, [("X1", "LOCAL-ONLY-001", "1", "1")])},
                           "fee_line_duplicate")  # fmt: skip
    await hospital.refused("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "NOPE"}}, "fee_batch_not_found")
    await hospital.ok("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": EMPLOYEE}})
    await hospital.refused("2207", settle_data(mdtrt_id, EMPLOYEE, None, insutype="310"), "fee_batch_not_found")
    await hospital.ok("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": EMPLOYEE, "ipt_otp_no": "MZ0001"}})
    await hospital.refused("2204", {"feedetail": fee_rows(mdtrt_id, EMPLOYEE, LINES)}, "encounter_not_found")


async def test_credential_decides_without_psn_no(hospital, world, db):
    cert = await certno(db, RESIDENT)
    assert cert.endswith("X")  # the demo resident's check digit: sent in lower case below
    out = await hospital.ok("2201", {"data": {"begntime": "2026-06-15 09:00:00", "mdtrt_cert_type": "02",
                                              "mdtrt_cert_no": cert.lower(), "ipt_otp_no": "1"}})  # fmt: skip
    assert out["data"]["psn_no"] == RESIDENT
    info = await hospital.ok("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "CARD-1", "certno": cert}})
    assert info["baseinfo"]["psn_no"] == RESIDENT
