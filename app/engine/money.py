"""Money helpers. The one place rounding is defined: 0.01 yuan, half up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0")
ONE = Decimal("1")


def round2(value: Decimal) -> Decimal:
    """Round to the cent, half up (四舍五入到分)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    """Parse a decimal string, int or Decimal. Floats are refused: they are not money."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"refusing {type(value).__name__} as a decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError("not a decimal number") from exc
        if not parsed.is_finite():
            raise ValueError("not a finite decimal number")
        return parsed
    raise TypeError(f"refusing {type(value).__name__} as a decimal")


def clamp01(value: Decimal) -> Decimal:
    return min(max(value, ZERO), ONE)


def percent(ratio: Decimal) -> str:
    """0.70 → '70%', 0.055 → '5.5%' (for explanations)."""
    text = format((ratio * 100).normalize(), "f")
    return f"{text}%"


def yuan(amount: Decimal) -> str:
    return money_text(amount)


def money_text(amount: Decimal) -> str:
    """The one text form of money: two decimals, no exponent ("1234.50").

    Amounts leaving the engine are already whole cents, and for those ``str`` is that
    text (a third of ``format``'s cost; checked on the text itself, which is cheaper than
    ``as_tuple``); anything else is rounded by `round2` first, so there is no second
    rounding rule."""
    text = str(amount)
    if len(text) > 3 and text[-3] == "." and "E" not in text:
        return text
    return format(round2(amount), "f")


#: decimal_text's answers by ``str(value)``, which keeps the exponent, so "1.50" and "1.5"
#: are different keys. Quantities and unit prices repeat from line to line and settlement
#: to settlement; bounded, as requests choose them.
_decimal_texts: dict[str, str] = {}
_DECIMAL_TEXTS_MAX = 65536


def decimal_text(value: Decimal) -> str:
    """A quantity or unit price as the client may have written it, without exponent:
    integral values without trailing zeros ("30"), others as they are ("1.8900")."""
    key = str(value)
    text = _decimal_texts.get(key)
    if text is None:
        text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
        if len(_decimal_texts) < _DECIMAL_TEXTS_MAX:
            _decimal_texts[key] = text
    return text
