"""Pydantic types shared by the API schemas: money, ratios, codes, dates.

Requests take money as a JSON string or number. Numbers are never rounded
through float: every router parses bodies with `parse_float=Decimal`
(`app.kit.routing.DecimalJSONRoute`), so a JSON number arrives here as the exact
Decimal the client wrote. Should a float reach these validators another way, it is
accepted only when its shortest repr has at most 15 significant digits (then it is
exactly the literal the client wrote); otherwise the client must send a string.
Responses render money as strings with exactly two decimals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from app.engine.money import money_text, to_decimal
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

_FLOAT_SAFE_DIGITS = 15


def parse_decimal(value: Any) -> Decimal:
    """str / int / Decimal / (safe) float → Decimal. Errors never quote the value.

    Text, integers and Decimals are parsed by the engine's one parser
    (`app.engine.money.to_decimal`); what is added here is the API's own guard: a float
    (which only reaches this by another way than our JSON parsing) is accepted only when
    its shortest repr is exactly what the client wrote, and overlong text is refused."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite decimal number")
        result = Decimal(repr(value))
        if len(result.as_tuple().digits) > _FLOAT_SAFE_DIGITS:
            raise ValueError("too many digits for a JSON number; send it as a string")
        return result
    if isinstance(value, str) and (not value.strip() or len(value.strip()) > 40):
        raise ValueError("must be a decimal number")
    try:
        return to_decimal(value)
    except (TypeError, ValueError) as exc:
        finite = "finite" in str(exc)
        raise ValueError("must be a finite decimal number" if finite else "must be a decimal number") from None


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def decimal_type(
    *, places: int, ge: Decimal | None = None, le: Decimal | None = None, max_integer_digits: int = 12, example: str
) -> Any:
    def check(value: Decimal) -> Decimal:
        if _places(value) > places:
            raise ValueError(f"at most {places} decimal places")
        if ge is not None and value < ge:
            raise ValueError(f"must be at least {ge}")
        if le is not None and value > le:
            raise ValueError(f"must be at most {le}")
        if abs(value) >= Decimal(10) ** max_integer_digits:
            raise ValueError("too large")
        return value

    description = f"Decimal as a JSON string (or number), at most {places} decimals"
    if ge is not None:
        description += f", ≥ {ge}"
    if le is not None:
        description += f", ≤ {le}"
    return Annotated[
        Decimal,
        BeforeValidator(parse_decimal),
        AfterValidator(check),
        PlainSerializer(lambda d: format(d, "f"), return_type=str),
        WithJsonSchema(
            {
                "anyOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}, {"type": "number"}],
                "description": description,
                "examples": [example],
            },
            mode="validation",
        ),
        WithJsonSchema({"type": "string", "examples": [example]}, mode="serialization"),
    ]


ZERO = Decimal("0")
ONE = Decimal("1")

#: A request amount in yuan: ≥ 0, at most 2 decimals (NUMERIC(14,2)).
MoneyIn = decimal_type(places=2, ge=ZERO, example="1234.50")
#: A ratio in [0, 1] (NUMERIC(7,4)).
RatioIn = decimal_type(places=4, ge=ZERO, le=ONE, max_integer_digits=1, example="0.70")
#: A signed ratio delta in [-1, 1].
RatioDeltaIn = decimal_type(places=4, ge=-ONE, le=ONE, max_integer_digits=1, example="-0.10")
#: A unit price / price cap: ≥ 0, at most 6 decimals (NUMERIC(18,6)).
PriceIn = decimal_type(places=6, ge=ZERO, example="1.890000")


def format_money(value: Decimal) -> str:
    """Response money: the engine's one text form (two decimals, its one rounding rule)."""
    return money_text(Decimal(value))


#: A response amount: a string with exactly two decimals ("1234.50").
MoneyOut = Annotated[
    Decimal,
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["1234.50"]}),
]
#: A response ratio as a decimal string ("0.70").
#: A response ratio or price as a plain decimal string ("0.7000", "2.000000").
RatioOut = Annotated[
    Decimal,
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
    WithJsonSchema({"type": "string", "examples": ["0.7000"]}),
]

RegionCode = Annotated[str, Field(pattern=r"^\d{6}$", examples=["441900"], description="6-digit region code (admdvs)")]
InstitutionCode = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9]{1,32}$", examples=["H44190000001"], description="Institution code")
]
MedType = Annotated[str, Field(pattern=r"^(11|14|21|41)$", examples=["21"])]

#: Control characters (C0, DEL, C1): refused in every text the API accepts (api.md,
#: Conventions, "Bodies"). PostgreSQL cannot store NUL in text at all, and the others
#: have no business in a name or an identifier.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"

#: Any request text — body field, query or path parameter — without control characters.
#: Add length limits where used: ``name: Text = Field(min_length=1, max_length=100)``.
#: (Lone surrogates are refused by pydantic itself, as not a valid string.)
Text = Annotated[str, Field(pattern=NO_CONTROL_CHARACTERS)]

#: The dates the API accepts: years 1900–2999. Beyond, day arithmetic (the day before a
#: date, the end of its year) would overflow Python's date range; no record is that old
#: or that far ahead.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)


def _in_date_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}")
    return value


#: A request date (``YYYY-MM-DD``) between `MIN_DATE` and `MAX_DATE`.
Day = Annotated[date, AfterValidator(_in_date_range)]
