"""Capital numerals 大写金额: a table of hand-worked cases (convention in app/settlement/capitals.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.settlement.capitals import capital_amount

CASES = [
    # amount        capitals                      why
    ("0.00", "零元整"),  # zero
    ("0.05", "伍分"),  # under one yuan: no 元, no 零 before 分
    ("0.50", "伍角整"),  # 整 after 角 when no 分
    ("0.58", "伍角捌分"),
    ("1.00", "壹元整"),
    ("10.00", "壹拾元整"),  # 拾 keeps its 壹
    ("10.50", "壹拾元伍角整"),
    ("15.00", "壹拾伍元整"),
    ("100.05", "壹佰元零伍分"),  # 角 is 0, yuan not: 零 before 分
    ("1000.10", "壹仟元壹角整"),  # no 零 between 元 and 角
    ("1001.01", "壹仟零壹元零壹分"),  # one 零 for the run 00, one for the missing 角
    ("1010.00", "壹仟零壹拾元整"),
    ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
    ("10010.00", "壹万零壹拾元整"),  # 1|0010: the lower group starts with 0
    ("100000.00", "壹拾万元整"),
    ("101000.00", "壹拾万壹仟元整"),  # 10|1000: no gap, no 零
    ("1000001.10", "壹佰万零壹元壹角整"),  # 100|0001
    ("34500000.00", "叁仟肆佰伍拾万元整"),  # trailing zeros of a group write nothing
    ("100000000.00", "壹亿元整"),
    ("100010000.00", "壹亿零壹万元整"),  # 1|0001|0000
    ("100001000.00", "壹亿零壹仟元整"),  # 1|0000|1000: the zero group is the gap
    ("1234506789.00", "壹拾贰亿叁仟肆佰伍拾万陆仟柒佰捌拾玖元整"),  # 12|3450|6789
    ("20300.00", "贰万零叁佰元整"),
    ("21303.80", "贰万壹仟叁佰零叁元捌角整"),
    ("-8.20", "负捌元贰角整"),
]


@pytest.mark.parametrize(("figures", "capitals"), CASES)
def test_capital_amount(figures: str, capitals: str) -> None:
    assert capital_amount(Decimal(figures)) == capitals


def test_trailing_zero_places_are_the_same_amount() -> None:
    assert capital_amount(Decimal(10)) == capital_amount(Decimal("10.000")) == "壹拾元整"


@pytest.mark.parametrize("bad", ["0.005", "1.234", "NaN", "Infinity", "1E16"])
def test_refuses_what_is_not_whole_cents(bad: str) -> None:
    with pytest.raises(ValueError):
        capital_amount(Decimal(bad))
