"""qty and unit_price places: the settle body's own check accepts and refuses exactly
what pydantic's ``decimal_places`` would, for every value within the bounds."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from app.settlement.schemas import MAX_QTY, MAX_UNIT_PRICE, SettlementRequest

PYDANTIC_QTY = TypeAdapter(Annotated[Decimal, Field(gt=0, le=MAX_QTY, decimal_places=4, allow_inf_nan=False)])
PYDANTIC_PRICE = TypeAdapter(Annotated[Decimal, Field(ge=0, le=MAX_UNIT_PRICE, decimal_places=6, allow_inf_nan=False)])


def _body(qty: str, unit_price: str) -> bytes:
    return orjson.dumps({
        "person_id": "P1", "encounter_id": "E1", "med_type": "11", "encounter_date": "2026-03-01",
        "items": [{"line_no": 1, "code": "X", "qty": qty, "unit_price": unit_price}],
    })  # fmt: skip


def _errors(qty: str, unit_price: str) -> list[tuple[str, str]] | None:
    try:
        SettlementRequest.model_validate_json(_body(qty, unit_price))
    except ValidationError as exc:
        return [(e["type"], e["msg"]) for e in exc.errors()]
    return None


def _pydantic(adapter: TypeAdapter, text: str) -> list[tuple[str, str]] | None:
    try:
        adapter.validate_python(text)
    except ValidationError as exc:
        return [(e["type"], e["msg"]) for e in exc.errors()]
    return None


def _text(digits: int, exponent: int, zeros: int, scientific: bool) -> str:
    """digits × 10^exponent as the client may write it: plainly, with ``zeros`` trailing
    zeros after a decimal point ("1.10000" has one place), or in exponent form ("11E-1")."""
    if scientific:
        return f"{digits}E{exponent}"
    plain = format(Decimal(digits).scaleb(exponent), "f")
    return plain + ("" if "." in plain else ".") + "0" * zeros if zeros else plain


texts = st.builds(_text, st.integers(1, 10**9), st.integers(-10, 3), st.integers(0, 3), st.booleans())


@settings(max_examples=400, deadline=None)
@given(texts)
def test_places_as_pydantic_checks_them(text: str) -> None:
    """The same answer, error type and message included, but for a value that breaks a
    bound and the places at once (pydantic names the places, we the bound)."""
    for adapter, bound, ours in ((PYDANTIC_QTY, MAX_QTY, lambda t: _errors(t, "1")),
                                 (PYDANTIC_PRICE, MAX_UNIT_PRICE, lambda t: _errors("1", t))):  # fmt: skip
        expected = _pydantic(adapter, text)
        if expected is not None and expected[0][0] == "decimal_max_places" and Decimal(text) > bound:
            assert ours(text)[0][0] == "less_than_equal"
        else:
            assert ours(text) == expected


@pytest.mark.parametrize(
    ("qty", "unit_price", "expected"),
    [
        ("1.10000", "1", None),  # 1.1: trailing zeros are not places
        ("0.0001", "0.000001", None),
        ("1E+2", "1", None),
        ("0.00001", "1", [("decimal_max_places", "Decimal input should have no more than 4 decimal places")]),
        ("1", "1.1234567", [("decimal_max_places", "Decimal input should have no more than 6 decimal places")]),
        # A bound and the places both broken: the bound is what is reported (schemas.py).
        ("1000000.00001", "1", [("less_than_equal", "Input should be less than or equal to 100000")]),
        ("-0.00001", "1", [("greater_than", "Input should be greater than 0")]),
    ],
)
def test_places_cases(qty: str, unit_price: str, expected: list[tuple[str, str]] | None) -> None:
    assert _errors(qty, unit_price) == expected
