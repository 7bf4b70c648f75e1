"""national-interface.md §3: every arithmetic identity on every answer, each its own test.

The answers are 2206/2207/2208 and 2303/2304/2305 of six encounters between them paying
from every layer: basic (310100, 390100), employees' 大额 330100, residents' 大病 390200,
medical aid 610100, secondary aid 610102, fallback 999997 and the personal account 310200.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from tests.national.scenarios import all_kinds

pytestmark = pytest.mark.asyncio

FUND_FIELDS = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")


@pytest.fixture
async def kinds(his_factory, db) -> dict[str, dict[str, Any]]:
    return await all_kinds(his_factory, db)


def answers(kinds: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name} {step}", flow[step]) for name, flow in kinds.items() for step in ("preview", "settle", "reverse")]


async def test_every_layer_is_covered(kinds):
    codes = {d["fund_pay_type"] for flow in kinds.values() for d in flow["settle"]["setldetail"]}
    assert codes == {"310100", "390100", "330100", "390200", "610100", "610102", "999997", "310200"}
    for flow in kinds.values():
        s = flow["settle"]["setlinfo"]
        # secondary aid and fallback are in oth_pay, and have their own setldetail lines
        own = sum((d["fund_payamt"] for d in flow["settle"]["setldetail"] if d["fund_pay_type"] in ("610102", "999997")),
                  D("0.00"))  # fmt: skip
        assert s["oth_pay"] == own


async def test_identity_1_medfee_is_the_four_classes(kinds):
    for label, out in answers(kinds):
        s = out["setlinfo"]
        assert s["medfee_sumamt"] == s["fulamt_ownpay_amt"] + s["overlmt_selfpay"] + s["preselfpay_amt"] + s["inscp_scp_amt"], label


async def test_identity_2_medfee_is_fund_plus_person_plus_hospital(kinds):
    for label, out in answers(kinds):
        s = out["setlinfo"]
        assert s["medfee_sumamt"] == s["fund_pay_sumamt"] + s["psn_part_amt"] + s["hosp_part_amt"], label


async def test_identity_3_person_is_account_plus_cash(kinds):
    for label, out in answers(kinds):
        s = out["setlinfo"]
        assert s["psn_part_amt"] == s["acct_pay"] + s["psn_cash_pay"], label


async def test_identity_4_fund_total_is_the_seven_fund_columns(kinds):
    for label, out in answers(kinds):
        s = out["setlinfo"]
        assert s["fund_pay_sumamt"] == sum((s[f] for f in FUND_FIELDS), D("0.00")), label


async def test_identity_5_setldetail_is_funds_plus_account_plus_hospital(kinds):
    for label, out in answers(kinds):
        s = out["setlinfo"]
        total = sum((d["fund_payamt"] for d in out["setldetail"]), D("0.00"))
        assert total == s["fund_pay_sumamt"] + s["acct_pay"] + s["hosp_part_amt"], label
        # the account line is there exactly when the account paid
        assert any(d["fund_pay_type"] == "310200" for d in out["setldetail"]) == (s["acct_pay"] != 0), label


async def test_identity_6_a_reversal_negates_every_amount(kinds):
    keep = {"balc", "pool_prop_selfpay", "age", "setl_time"}
    for name, flow in kinds.items():
        settled, reversed_ = flow["settle"], flow["reverse"]
        for field, value in settled["setlinfo"].items():
            if isinstance(value, D) and field not in keep:
                assert reversed_["setlinfo"][field] == -value, (name, field)
        assert reversed_["setlinfo"]["setl_id"] == settled["setlinfo"]["setl_id"]
        assert reversed_["setlinfo"]["pool_prop_selfpay"] == settled["setlinfo"]["pool_prop_selfpay"]
        assert [(d["fund_pay_type"], -d["fund_payamt"], -d["inscp_scp_amt"]) for d in reversed_["setldetail"]] == [
            (d["fund_pay_type"], d["fund_payamt"], d["inscp_scp_amt"]) for d in settled["setldetail"]], name


async def test_identity_7_account_balance_continuity(kinds):
    for name, flow in kinds.items():
        before = flow["before"]
        settled, reversed_ = flow["settle"]["setlinfo"], flow["reverse"]["setlinfo"]
        assert flow["preview"]["setlinfo"]["balc"] == before - settled["acct_pay"], name
        assert settled["balc"] == before - settled["acct_pay"], name
        assert reversed_["balc"] == settled["balc"] - reversed_["acct_pay"] == before, name
    # the retired employee's account paid: 8000.00 − acct_pay
    retired = kinds["retired employee inpatient (大额, account)"]["settle"]["setlinfo"]
    assert retired["acct_pay"] > 0 and retired["hifob_pay"] > 0 and retired["hifmi_pay"] == 0
