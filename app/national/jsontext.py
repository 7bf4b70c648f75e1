"""JSON text for national answers: money as JSON *numbers* with two decimals.

The national platform answers amounts as numbers (``"medfee_sumamt": 4.52``), where
our native API uses strings. A float must never carry money, so this small encoder
writes `Decimal` values as their exact decimal text, and `Raw` values (an answer
stored earlier) as they are. Nothing else is accepted: a float is a bug.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class Raw(str):
    """JSON text to be embedded verbatim (e.g. a stored ``output``)."""


def money(value: Decimal | str | int | None) -> Decimal:
    """Two decimals, half-up; never a negative zero."""
    amount = Decimal(value if value is not None else 0).quantize(CENT, rounding=ROUND_HALF_UP)
    return amount if amount else ZERO


def negate(value: Decimal) -> Decimal:
    return money(-value)


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Raw):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(orjson.dumps(value).decode())
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("not a finite decimal")
        out.append(format(value, "f"))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(orjson.dumps(str(key)).decode())
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as national JSON")


def dumps(value: Any) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def loads(text: str | bytes) -> Any:
    """JSON with every non-integer number as an exact `Decimal`."""
    return json.loads(text, parse_float=Decimal)
