"""§3 at the price cap's edge, worked by hand: the capped amount is the line's amount
when the price is at or under the cap, and its own product, rounded half up, above it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.engine.classify import classify_line
from app.engine.model import CatalogItem, Encounter, FeeLine, Institution

HOSPITAL = Institution("H44190000001", "hospital", 3, "441900")
STAY = Encounter("21", dt.date(2026, 3, 3), ())


@pytest.mark.parametrize(
    ("qty", "price", "cap", "amount", "over_limit", "pre_self_pay", "in_scope"),
    [
        # at the cap: 0.5 × 100.01 = 50.005 → 50.01, capped the same; pre 10 % of 50.01 =
        # 5.001 → 5.00; in scope 50.01 − 5.00 = 45.01
        ("0.5", "100.01", "100.01", "50.01", "0.00", "5.00", "45.01"),
        # one fen above: amount 50.01 as above; capped 0.5 × 100.00 = 50.00; over 0.01;
        # pre 5.00; in scope 45.00
        ("0.5", "100.01", "100.00", "50.01", "0.01", "5.00", "45.00"),
        # above, both products rounded half up: 3 × 33.335 = 100.005 → 100.01; capped
        # 3 × 33.333 = 99.999 → 100.00; over 0.01; pre 10.00; in scope 90.00
        ("3", "33.335", "33.333", "100.01", "0.01", "10.00", "90.00"),
        # no cap: 7 × 1.005 = 7.035 → 7.04; pre 0.704 → 0.70; in scope 6.34
        ("7", "1.005", None, "7.04", "0.00", "0.70", "6.34"),
    ],
)
def test_capped_amount_at_and_around_the_cap(
    qty: str, price: str, cap: str | None, amount: str, over_limit: str, pre_self_pay: str, in_scope: str
) -> None:
    item = CatalogItem("B1", "乙类 10%", "B", Decimal("0.10"), None if cap is None else Decimal(cap))
    result = classify_line(FeeLine(1, "B1", Decimal(qty), Decimal(price)), item, STAY, HOSPITAL)
    got = [str(v) for v in (result.amount, result.over_limit, result.pre_self_pay, result.in_scope)]
    assert got == [amount, over_limit, pre_self_pay, in_scope]  # text: two places each, not only the value
