"""Amounts in Chinese capital numerals 大写金额, as printed on a settlement slip.

``capital_amount(Decimal("1234.56"))`` → ``"壹仟贰佰叁拾肆元伍角陆分"``. Pure: no I/O.

The convention (the rules for filling in 结算凭证 of 《支付结算办法》, where they leave a
choice the choice is named here):

- Digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 inside a group of four, 万 亿 万亿 between
  groups. A leading 拾 keeps its 壹 (10 → 壹拾元, never 拾元), as on every financial form.
- **零** inside the yuan: one 零 for each run of zeros that has a non-zero digit on both
  sides (1001 → 壹仟零壹, 1000001 → 壹佰万零壹, 100010000 → 壹亿零壹万); trailing zeros of
  a group write nothing (34500000 → 叁仟肆佰伍拾万). Between 元 and 分, 零 is written when
  角 is 0 and the yuan are not (1001.01 → 壹仟零壹元零壹分). Between 元 and 角 never (the
  rules allow both; 1000.10 → 壹仟元壹角整).
- **整** after 元 and after 角 when nothing follows (10.00 → 壹拾元整, 10.50 → 壹拾元伍角整);
  never after 分 (1234.56 → …伍角陆分).
- Under one yuan, no 元 is written (0.05 → 伍分, 0.50 → 伍角整); zero is 零元整.
- A negative amount is prefixed 负.

The amount must be a whole number of cents (round with the engine's ``round2`` first);
anything else is a ValueError, never a silent rounding.
"""

from __future__ import annotations

from decimal import Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("仟", "佰", "拾", "")
_GROUP_UNITS = ("", "万", "亿", "万亿")
_LIMIT = Decimal(10) ** (4 * len(_GROUP_UNITS))


def _group(value: int) -> str:
    """0 < value < 10000, without a leading 零."""
    digits = f"{value:04d}"
    out: list[str] = []
    zero = False
    for digit, unit in zip(digits, _IN_GROUP):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[int(digit)] + unit)
    return "".join(out)


def _yuan(value: int) -> str:
    """value > 0 in figures → capitals, without 元."""
    groups: list[int] = []
    while value:
        value, rest = divmod(value, 10000)
        groups.append(rest)
    out: list[str] = []
    zero_pending = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(out)
            continue
        if out and (zero_pending or group < 1000):
            out.append("零")
        out.append(_group(group) + _GROUP_UNITS[index])
        zero_pending = False
    return "".join(out)


def capital_amount(amount: Decimal) -> str:
    """An amount of yuan in capital numerals (the module's convention)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError("a finite Decimal amount is required")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError("the amount has more than two decimals")
    if abs(amount) >= _LIMIT:
        raise ValueError("the amount is too large")
    total = int(cents)
    sign = "负" if total < 0 else ""
    total = abs(total)
    yuan, fraction = divmod(total, 100)
    jiao, fen = divmod(fraction, 10)
    if total == 0:
        return "零元整"
    out = _yuan(yuan) + "元" if yuan else ""
    if jiao:
        out += DIGITS[jiao] + "角"
        out += DIGITS[fen] + "分" if fen else "整"
    elif fen:
        out += ("零" if yuan else "") + DIGITS[fen] + "分"
    else:
        out += "整"
    return sign + out
