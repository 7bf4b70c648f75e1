"""Pharmacy purchase with an e-voucher code: 2101 → 2102 → 2103; the code is refused on a
second 2102, a retried 2102 is the same settlement."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import make_asgi_client
from tests.national.flows import RESIDENT

pytestmark = pytest.mark.asyncio


async def issue(app, world, person_id: str) -> str:
    async with make_asgi_client(app, world["wallet"]) as wallet:
        r = await wallet.post("/v1/e-vouchers", json={"person_id": person_id})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def purchase(code: str, *, cert_type: str = "01", psn_no: str | None = RESIDENT) -> dict:
    return {
        "druginfo": {"psn_no": psn_no, "mdtrt_cert_type": cert_type, "mdtrt_cert_no": code,
                     "begntime": "2026-06-15 10:00:00", "medfee_sumamt": 200, "insutype": "390", "med_type": "41",
                     "acct_used_flag": "1", "minpacunt_drug_trac_cnt": 0},
        # 阿托伐他汀钙片 (A in Dongguan): 4 × 50.00 = 200.00
        "drugdetail": [{"feedetl_sn": "YP1", "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": "2026-06-15 10:00:00",
                        "med_list_codg": "XC10AAA001A001010100", "medins_list_codg": "YD-1",
                        "det_item_fee_sumamt": 200, "cnt": 4, "pric": "50.00", "bilg_dr_codg": "", "bilg_dr_name": ""}],
    }  # fmt: skip


async def test_purchase_with_an_e_voucher_code(pharmacy, world, db, app):
    code = await issue(app, world, RESIDENT)

    # 1101 by the code: it is not consumed
    info = await pharmacy.ok("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": code}})
    assert info["baseinfo"]["psn_no"] == RESIDENT and "*" in info["baseinfo"]["certno"]

    pre = await pharmacy.ok("2101", purchase(code))
    # pharmacy rule 41: 50%, annual outpatient deductible 100.00: basic (200 − 100) × 50% = 50.00
    s = pre["setlinfo"]
    assert (s["medfee_sumamt"], s["act_pay_dedc"], s["hifp_pay"], s["psn_cash_pay"], s["clr_type"]) == (
        D("200.00"), D("100.00"), D("50.00"), D("150.00"), "41")
    assert pre["detlcutinfo"][0]["feedetl_sn"] == "YP1" and pre["detlcutinfo"][0]["inscp_scp_amt"] == D("200.00")
    assert await db.fetchval("SELECT consumed_by FROM e_vouchers") is None

    msgid = pharmacy.msgid()
    out = await pharmacy.ok("2102", purchase(code), msgid=msgid)
    setl = out["setlinfo"]
    assert (setl["hifp_pay"], setl["psn_cash_pay"], setl["mdtrt_id"]) == (D("50.00"), D("150.00"), msgid)
    assert [(d["fund_pay_type"], d["fund_payamt"]) for d in out["setldetail"]] == [("390100", D("50.00"))]
    consumed = await db.fetchval("SELECT consumed_by::text FROM e_vouchers")
    assert consumed == setl["setl_id"]

    # the till's retry of the same message: the same settlement, the same answer
    again = await pharmacy.ok("2102", purchase(code), msgid=msgid)
    assert again == out and await db.count("settlements") == 1

    # another 2102 with the same code: refused, nothing written but the failure the
    # e-voucher limiter counts (its own row, kept outside the refused request)
    before = await db.counts()
    await pharmacy.refused("2102", purchase(code), "e_voucher_used")
    after = await db.counts()
    assert after.pop("e_voucher_attempts") == before.pop("e_voucher_attempts") + 1
    assert after == before

    rev = await pharmacy.ok("2103", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": msgid, "psn_no": RESIDENT}})
    r = rev["setlinfo"]
    assert (r["medfee_sumamt"], r["hifp_pay"], r["psn_cash_pay"], r["psn_pay"], r["cash_payamt"]) == (
        D("-200.00"), D("-50.00"), D("-150.00"), D("-150.00"), D("-150.00"))
    # the code stays used after the reversal (as in the native API)
    await pharmacy.refused("2102", purchase(code), "e_voucher_used")


async def test_purchase_by_certno_and_unknown_code(pharmacy, world, db):
    cert = await db.fetchval("SELECT certno FROM persons WHERE person_id = $1", RESIDENT)
    out = await pharmacy.ok("2102", purchase(cert, cert_type="02"))
    assert out["setlinfo"]["psn_no"] == RESIDENT
    await pharmacy.refused("2101", purchase("ZZZZZZ-not-a-code"), "e_voucher_invalid")
    err = await pharmacy.refused("2101", purchase(cert, cert_type="02", psn_no="P441900000002"), "person_mismatch")
    assert cert not in err
