"""Golden cases: every file in tests/engine/cases/, worked by hand from settlement.md.

Two tests per case:
- `test_case_file_is_consistent` checks the hand arithmetic itself (the §11
  identities over the expected figures), without the engine;
- `test_golden` settles the case with the engine and compares totals (all 17
  fields), the listed items, the deltas (exact dict equality) and the funds, or
  the refusal code.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.engine.model import TOTAL_FIELDS, Refusal, Settlement
from app.engine.settle import settle
from tests.engine.casefile import (
    CENT_EXPONENT,
    D,
    FUND_PAY_TYPES,
    FUND_TOTAL_FIELD,
    build_inputs,
    case_files,
    delta_problems,
    identity_problems,
    load_case,
)

CASES = case_files()
IDS = [p.stem for p in CASES]
ZERO = Decimal("0")


def _expected_totals(expected: dict) -> dict[str, Decimal]:
    totals = {k: D(v) for k, v in expected["totals"].items()}
    assert set(totals) == set(TOTAL_FIELDS), f"case must list all 17 totals, differs by {set(totals) ^ set(TOTAL_FIELDS)}"
    return totals


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 35


@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_case_file_is_consistent(path) -> None:
    case = load_case(path)
    assert case.get("name") and case.get("why"), "a case needs a name and its hand arithmetic"
    build_inputs(case)  # the inputs must build
    expected = case["expected"]
    if "refusal" in expected:
        return
    t = _expected_totals(expected)
    for name, value in t.items():
        assert value >= 0, name
        assert value.as_tuple().exponent == CENT_EXPONENT, f"{name}={value}: write two decimals"
    assert t["total"] == t["self_pay_full"] + t["over_limit"] + t["pre_self_pay"] + t["in_scope"]
    assert t["in_scope"] == t["deductible"] + t["pool_self_pay"] + t["over_cap"] + t["basic_fund"]
    assert t["fund_total"] == (
        t["basic_fund"] + t["critical_illness"] + t["medical_aid"] + t["fallback"] + t["secondary_aid"]
    )
    assert t["personal_total"] == t["total"] - t["fund_total"]
    assert t["total"] == t["fund_total"] + t["personal_account"] + t["cash"]
    n_lines = len(case["encounter"]["lines"])
    items = expected["items"]
    if len(items) == n_lines:
        for field in ("self_pay_full", "over_limit", "pre_self_pay", "in_scope"):
            assert sum((D(i[field]) for i in items), ZERO) == t[field], field
    funds = {k: D(v) for k, v in expected["funds"].items()}
    for fund, field in FUND_TOTAL_FIELD.items():
        assert funds.get(fund, ZERO) == t[field], fund
    deltas = {k: D(v) for k, v in expected["deltas"].items()}
    assert all(v != 0 for v in deltas.values())
    assert deltas.get("basic_paid", ZERO) == t["basic_fund"]
    assert deltas.get("ci_paid", ZERO) == t["critical_illness"]
    assert deltas.get("aid_paid", ZERO) == t["medical_aid"]
    assert deltas.get("sa_paid", ZERO) == t["secondary_aid"]
    assert deltas.get("account_balance", ZERO) == -t["personal_account"]


@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_golden(path) -> None:
    case = load_case(path)
    encounter, ctx = build_inputs(case)
    expected = case["expected"]
    result = settle(encounter, ctx)

    if "refusal" in expected:
        assert isinstance(result, Refusal), f"expected refusal {expected['refusal']}, got a settlement {result.totals}"
        assert result.code == expected["refusal"]
        return

    assert isinstance(result, Settlement), f"expected a settlement, got {result}"
    want = _expected_totals(expected)
    got = {name: getattr(result.totals, name) for name in TOTAL_FIELDS}
    diffs = {name: (str(want[name]), str(got[name])) for name in TOTAL_FIELDS if want[name] != got[name]}
    assert not diffs, f"totals differ (field: (hand, engine)): {diffs}"

    by_line = {i.line_no: i for i in result.items}
    assert sorted(by_line) == sorted(line.line_no for line in encounter.lines)
    for item in expected["items"]:
        got_item = by_line[item["line_no"]]
        for field in ("self_pay_full", "over_limit", "pre_self_pay", "in_scope"):
            assert getattr(got_item, field) == D(item[field]), f"line {item['line_no']} {field}"
        assert got_item.reason == item.get("reason"), f"line {item['line_no']} reason"

    want_deltas = {k: D(v) for k, v in expected["deltas"].items()}
    got_deltas = dict(result.deltas)
    assert got_deltas == want_deltas, (
        f"deltas differ: hand {sorted((k, str(v)) for k, v in want_deltas.items())}, "
        f"engine {sorted((k, str(v)) for k, v in got_deltas.items())}"
    )

    insutype = result.insutype
    want_funds = {k: D(v) for k, v in expected["funds"].items()}
    got_funds = {f.fund: f.amount for f in result.funds}
    assert len(got_funds) == len(result.funds), "a fund listed twice"
    assert got_funds == want_funds
    for f in result.funds:
        assert f.fund_pay_type == FUND_PAY_TYPES[f.fund][insutype], f"{f.fund} fund_pay_type {f.fund_pay_type}"
        assert f.explanation, f"{f.fund} has no explanation"

    if "cross_region" in expected:
        assert result.cross_region is expected["cross_region"]
    if "insutype" in expected:
        assert result.insutype == expected["insutype"]
    assert result.med_type == encounter.med_type
    assert result.accumulation_year == encounter.encounter_date.year
    assert result.policy_version == ctx.policy.version

    assert not identity_problems(result)
    assert not delta_problems(result)
