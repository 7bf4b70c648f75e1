"""`check_invariants` (§11) refuses what it promises to refuse.

The check tests every total's exponent with `Decimal.same_quantum` against 0.01 rather
than `as_tuple().exponent == -2` (cheaper: no tuple per total); these tests hold the two
to be the same test, and check that each kind of broken result is refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.model import (
    TOTAL_FIELDS,
    BasicInsurance,
    BasicRule,
    CatalogItem,
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Policy,
    Settlement,
    SettlementContext,
)
from app.engine.money import CENT
from app.engine.settle import InvariantBroken, check_invariants, settle


def _result() -> Settlement:
    policy = Policy(
        "441900", "390", dt.date(2026, 1, 1),
        BasicInsurance(Decimal(400000), (BasicRule("21", Decimal("0.70"), Decimal(1000), "per_encounter"),)),
    )  # fmt: skip
    person = Person("P1", "441900", (Enrollment("390", dt.date(2020, 1, 1)),))
    inst = Institution("H1", "hospital", 3, "441900")
    item = CatalogItem("X1", "x", "B", self_pay_ratio=Decimal("0.10"))
    encounter = Encounter("21", dt.date(2026, 3, 1), (FeeLine(1, "X1", Decimal(3), Decimal("1234.57")),))
    result = settle(encounter, SettlementContext(person, inst, policy, {"X1": item}))
    assert isinstance(result, Settlement)
    return result


def test_a_good_result_passes() -> None:
    check_invariants(_result())


@pytest.mark.parametrize("name", TOTAL_FIELDS)
@pytest.mark.parametrize("bad", ["1.234", "1.2", "1", "-0.01", "NaN", "Infinity", "1E+2"])
def test_each_total_is_checked(name: str, bad: str) -> None:
    result = _result()
    broken = dataclasses.replace(result, totals=dataclasses.replace(result.totals, **{name: Decimal(bad)}))
    with pytest.raises(Exception) as info:  # InvariantBroken; NaN's comparison raises InvalidOperation first
        check_invariants(broken)
    if bad != "NaN":
        assert isinstance(info.value, InvariantBroken)


def test_negative_item_part_is_refused() -> None:
    result = _result()
    item = result.items[0]
    bad = dataclasses.replace(item, over_limit=Decimal("-1.00"), in_scope=item.in_scope + Decimal("1.00"))
    with pytest.raises(InvariantBroken):
        check_invariants(dataclasses.replace(result, items=(bad,)))


def test_item_parts_must_add_up() -> None:
    result = _result()
    item = result.items[0]
    bad = dataclasses.replace(item, in_scope=item.in_scope + Decimal("0.01"))
    with pytest.raises(InvariantBroken):
        check_invariants(dataclasses.replace(result, items=(bad,)))


@given(
    st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True),
        st.builds(lambda i, e: Decimal(i).scaleb(e), st.integers(-(10**12), 10**12), st.integers(-6, 3)),
    )
)
def test_same_quantum_is_the_exponent_test(value: Decimal) -> None:
    assert CENT.same_quantum(value) == (value.as_tuple().exponent == -2)
