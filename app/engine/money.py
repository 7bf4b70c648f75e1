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
    return format(round2(amount), "f")
