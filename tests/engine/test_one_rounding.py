"""Money has one rounding rule — `app.engine.money.round2`, 0.01 half up — and one text
form, `money_text`. A bare ``quantize()`` rounds half-even (the context's default): a
second rule. This reads the whole app and finds every ``quantize(`` call."""

from __future__ import annotations

import pathlib
import re
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

import app
from app.engine.money import decimal_text, money_text, round2

APP = pathlib.Path(app.__file__).parent


def _arguments(text: str, start: int) -> str:
    """The text between the parenthesis at ``start`` and its matching one."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    return text[start + 1 :]


def test_every_quantize_names_its_rounding_mode() -> None:
    calls = []
    for path in sorted(APP.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\.quantize\(", text):
            calls.append((str(path.relative_to(APP)), _arguments(text, match.end() - 1)))
    assert calls, "round2 itself quantizes"
    assert [c for c in calls if "rounding=" not in c[1]] == []


def test_money_text_and_round2_agree() -> None:
    # Hand-worked: half up at the cent, never half-even (2.675 → 2.68, 2.665 → 2.67).
    cases = {"2.675": "2.68", "2.665": "2.67", "0.005": "0.01", "0.004": "0.00", "10": "10.00",
             "1234.5": "1234.50", "1E+3": "1000.00", "99999999989900000000.01": "99999999989900000000.01"}
    for written, text in cases.items():
        assert money_text(Decimal(written)) == text == format(round2(Decimal(written)), "f")
    assert decimal_text(Decimal("30.0000")) == "30"
    assert decimal_text(Decimal("1.8900")) == "1.8900"
    assert decimal_text(Decimal("1E+1")) == "10"


@given(
    st.decimals(min_value=Decimal("0"), max_value=Decimal("10000000"), places=None, allow_nan=False,
                allow_infinity=False).filter(lambda d: d.as_tuple().exponent >= -6)
)  # fmt: skip
def test_decimal_text_remembers_exactly_what_it_would_compute(value: Decimal) -> None:
    """The memo is keyed by the text with its exponent: equal values written differently
    ("1.5", "1.50") keep their own answers, the first call and the remembered one alike."""
    expected = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    assert decimal_text(value) == expected
    assert decimal_text(value) == expected
    widened = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)  # same value, more places
    if widened == value and widened != widened.to_integral_value():
        assert decimal_text(widened) == format(widened, "f")
