"""Settlement request and response bodies (api.md, Settlements)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from app.engine.money import round2
from app.kit.clock import CST
from app.kit.errors import coded_field_errors
from app.kit.types import Day, Text
from app.settlement.exceptions import EncounterDateInFuture

# Amount bounds (api.md, Conventions, "Money"): every accepted line and total fits its
# NUMERIC(14,2) column with room to spare. Beyond them `422 amount_out_of_range`, the
# same for preview and settle: both validate this model. qty and unit_price are bounded
# by pydantic-core's own constraints (no Python call per line on the hot path), whose
# bound errors app.kit.errors reports as amount_out_of_range (`coded_field_errors`);
# the line amounts and the total by one validator of the request.
MAX_QTY = Decimal("100000")
MAX_UNIT_PRICE = Decimal("10000000")
MAX_LINE_AMOUNT = Decimal("100000000.00")
MAX_TOTAL = Decimal("1000000000.00")
AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
_HALF_CENT = Decimal("0.005")
coded_field_errors(AMOUNT_OUT_OF_RANGE, "qty", "unit_price")


def _out_of_range(message: str) -> PydanticCustomError:
    return PydanticCustomError(AMOUNT_OUT_OF_RANGE, message)


# The bounds are pydantic-core's own, so the settle route can parse and validate the raw
# body in one pass (`model_validate_json`): JSON numbers become exact Decimals there
# (lossless), never binary floats. The places are checked by `_at_most_places`, after the
# bounds: pydantic-core's own ``decimal_places`` cost up to 3.4 µs a value (it builds
# ``Decimal.as_tuple()`` twice); this is ≈ 0.3 µs (−1.6 % of an inpatient settlement's
# instructions, docs/performance.md).
# Trailing zeros do not count as places, as with pydantic's check, and the error is the
# same (type, message). A value that breaks a bound and has too many places reports the
# bound (docs/performance.md, 2026-12-03).
_PLACES_CONTEXT = Context(prec=28, traps=[InvalidOperation])


def _at_most_places(places: int) -> AfterValidator:
    quantum = Decimal(1).scaleb(-places)

    def check(value: Decimal) -> Decimal:
        # Bounded already (≤ 10^7), so quantizing to 10^-6 stays within 28 digits. Not a
        # rounding of money: it only asks whether anything would be cut (any mode would do).
        if value == value.quantize(quantum, rounding=ROUND_DOWN, context=_PLACES_CONTEXT):
            return value
        raise PydanticCustomError(
            "decimal_max_places",
            "Decimal input should have no more than {decimal_places} decimal places",
            {"decimal_places": places},
        )

    return AfterValidator(check)


def _documented(*, places: int, number: dict[str, float]) -> WithJsonSchema:
    """The request schema as pydantic writes it for ``decimal_places`` (the check moved to
    `_at_most_places`, the contract did not): a number within the bounds, or a decimal
    string with at most ``places`` significant decimals."""
    string = {"type": "string", "pattern": rf"^(?!^[-+.]*$)[+-]?0*\d*\.?\d{{0,{places}}}0*$"}
    return WithJsonSchema({"anyOf": [{"type": "number", **number}, string]}, mode="validation")


Quantity = Annotated[
    Decimal,
    Field(gt=0, le=MAX_QTY, allow_inf_nan=False,
          description="Quantity, > 0, up to 4 decimals (string or number)", examples=["30"]),
    _at_most_places(4),
    _documented(places=4, number={"maximum": float(MAX_QTY), "exclusiveMinimum": 0.0}),
]
UnitPrice = Annotated[
    Decimal,
    Field(ge=0, le=MAX_UNIT_PRICE, allow_inf_nan=False,
          description="Unit price in yuan, ≥ 0, up to 6 decimals (string or number)", examples=["1.8900"]),
    _at_most_places(6),
    _documented(places=6, number={"maximum": float(MAX_UNIT_PRICE), "minimum": 0.0}),
]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")]
#: The earliest encounter the service settles (accumulator reads start at year 2000).
MIN_ENCOUNTER_DATE = dt.date(2000, 1, 1)
MedType = Literal["11", "14", "21", "41"]
Insutype = Literal["310", "390"]


class FeeLineIn(BaseModel):
    """One fee line 费用明细."""

    model_config = ConfigDict(extra="forbid")

    line_no: int = Field(ge=1, le=100000)
    code: Code
    name: Text | None = Field(default=None, max_length=200)
    qty: Quantity
    unit_price: UnitPrice


class SettlementRequest(BaseModel):
    """An encounter to preview or settle 预结算/结算."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "person_id": "P441900000001",
                "e_voucher_code": None,
                "institution_code": "H44190000001",
                "encounter_id": "ZY2026000123",
                "med_type": "21",
                "insutype": "390",
                "encounter_date": "2026-03-10",
                "admission_date": "2026-03-01",
                "diagnoses": ["C34.9"],
                "special_disease": None,
                "referral_id": None,
                "use_personal_account": True,
                "items": [
                    {"line_no": 1, "code": "XL01XEG001A001010100", "name": "吉非替尼片", "qty": "30", "unit_price": "1.8900"}
                ],
            }
        },
    )

    person_id: Text | None = Field(default=None, min_length=1, max_length=64)
    e_voucher_code: Text | None = Field(default=None, min_length=1, max_length=256)
    institution_code: Text | None = Field(default=None, min_length=1, max_length=32)
    encounter_id: Text = Field(min_length=1, max_length=64)
    med_type: MedType
    insutype: Insutype | None = None
    encounter_date: Day = Field(
        description="Visit date, or discharge date for inpatient (出院日期); from 2000-01-01, "
        "not after today (+08:00) — else `422 encounter_date_in_future`"
    )
    admission_date: Day | None = Field(default=None, description="Inpatient admission date 入院日期; not after today")
    diagnoses: list[Annotated[Text, Field(min_length=1, max_length=16)]] = Field(default_factory=list, max_length=50)
    special_disease: Text | None = Field(default=None, min_length=1, max_length=32)
    referral_id: uuid.UUID | None = None
    use_personal_account: bool = True
    items: list[FeeLineIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _amounts_in_range(self) -> "SettlementRequest":
        """Each line's amount round2(qty × unit_price) ≤ MAX_LINE_AMOUNT, their sum ≤
        MAX_TOTAL. Rounded only near a bound: round2(x) ≤ x + 0.005."""
        total = Decimal(0)
        for line in self.items:
            amount = line.qty * line.unit_price
            if amount > MAX_LINE_AMOUNT and round2(amount) > MAX_LINE_AMOUNT:
                raise _out_of_range(
                    f"line {line.line_no}: the amount (qty × unit_price) must be at most {MAX_LINE_AMOUNT}"
                )
            total += amount
        if total + _HALF_CENT * len(self.items) > MAX_TOTAL:
            if sum(round2(line.qty * line.unit_price) for line in self.items) > MAX_TOTAL:
                raise _out_of_range(f"the encounter's total must be at most {MAX_TOTAL}")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> "SettlementRequest":
        if (self.person_id is None) == (self.e_voucher_code is None):
            raise ValueError("exactly one of person_id and e_voucher_code is required")
        seen: set[int] = set()
        for line in self.items:
            if line.line_no in seen:
                raise ValueError(f"line_no {line.line_no} is repeated")
            seen.add(line.line_no)
        if self.med_type == "14" and not self.special_disease:
            raise ValueError("special_disease is required for med_type 14")
        if self.admission_date is not None and self.admission_date > self.encounter_date:
            raise ValueError("admission_date is after encounter_date")
        if self.encounter_date < MIN_ENCOUNTER_DATE:
            raise ValueError(f"encounter_date must not be before {MIN_ENCOUNTER_DATE.isoformat()}")
        return self


def check_encounter_dates(request: SettlementRequest, now: dt.datetime) -> None:
    """``422 encounter_date_in_future`` when the encounter (or admission) is after today in
    +08:00 (api.md, Conventions, "Dates"): such a settlement would accumulate into a year
    whose policy and accumulators nobody can yet read. Needs the app clock, so it is not a
    schema validator; the service calls it before any rule."""
    today = now.astimezone(CST).date()
    if request.encounter_date > today:
        raise EncounterDateInFuture("encounter_date", today)
    if request.admission_date is not None and request.admission_date > today:
        raise EncounterDateInFuture("admission_date", today)


# --------------------------------------------------------------------------- responses

MoneyOut = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["1234.50"])]


class TotalsOut(BaseModel):
    total: MoneyOut
    self_pay_full: MoneyOut = Field(description="全自费 fulamt_ownpay_amt")
    over_limit: MoneyOut = Field(description="超限价自付 overlmt_selfpay")
    pre_self_pay: MoneyOut = Field(description="先行自付 preselfpay_amt")
    in_scope: MoneyOut = Field(description="符合政策范围 inscp_scp_amt")
    deductible: MoneyOut = Field(description="起付线 act_pay_dedc")
    pool_self_pay: MoneyOut = Field(description="统筹内个人自付")
    over_cap: MoneyOut = Field(description="超封顶/限额")
    basic_fund: MoneyOut = Field(description="统筹基金支付 hifp_pay")
    critical_illness: MoneyOut = Field(description="大病保险 hifmi_pay / 职工大额 hifob_pay")
    medical_aid: MoneyOut = Field(description="医疗救助 maf_pay")
    fallback: MoneyOut = Field(description="兜底")
    secondary_aid: MoneyOut = Field(description="二次医疗救助")
    fund_total: MoneyOut = Field(description="基金支付总额 fund_pay_sumamt")
    personal_total: MoneyOut = Field(description="个人负担总金额 psn_part_amt")
    personal_account: MoneyOut = Field(description="个人账户支付 acct_pay")
    cash: MoneyOut = Field(description="现金支付 psn_cash_pay")


class FundOut(BaseModel):
    fund: Literal["basic", "critical_illness", "medical_aid", "fallback", "secondary_aid", "personal_account"]
    fund_pay_type: str = Field(description="基金支付类型 national code", examples=["390100"])
    amount: MoneyOut
    basis: MoneyOut = Field(description="The base this layer was computed on")
    explanation: str


class ItemOut(BaseModel):
    line_no: int
    code: str
    name: str | None
    qty: str
    unit_price: str
    amount: MoneyOut
    category: Literal["A", "B", "C"] | None
    self_pay_full: MoneyOut
    over_limit: MoneyOut
    pre_self_pay: MoneyOut
    in_scope: MoneyOut
    reason: Literal["not_in_catalog", "category_c", "restricted"] | None


EXAMPLE_SETTLEMENT = {
    "settlement_id": "0f5b9d1e-3c1a-4a59-8f0e-6d7c2b1a9e01",
    "status": "settled",
    "institution_code": "H44190000001",
    "person_id": "P441900000001",
    "encounter_id": "ZY2026000123",
    "insutype": "390",
    "med_type": "21",
    "encounter_date": "2026-03-10",
    "accumulation_year": 2026,
    "policy_version": "441900/390/2026-01-01",
    "cross_region": False,
    "settled_at": "2026-03-10T09:30:00+00:00",
    "reversed_at": None,
    "totals": {
        "total": "30000.00", "self_pay_full": "0.00", "over_limit": "0.00", "pre_self_pay": "0.00",
        "in_scope": "30000.00", "deductible": "1000.00", "pool_self_pay": "8700.00", "over_cap": "0.00",
        "basic_fund": "20300.00", "critical_illness": "1003.80", "medical_aid": "0.00", "fallback": "0.00",
        "secondary_aid": "0.00", "fund_total": "21303.80", "personal_total": "8696.20",
        "personal_account": "0.00", "cash": "8696.20",
    },
    "funds": [
        {"fund": "basic", "fund_pay_type": "390100", "amount": "20300.00", "basis": "30000.00",
         "explanation": "住院 三级 起付线 1000.00 (每次 1000.00), 比例 70%"},
        {"fund": "critical_illness", "fund_pay_type": "390200", "amount": "1003.80", "basis": "9700.00",
         "explanation": "大病 起付线 15000.00, 累计 6973.00→16673.00"},
    ],
    "items": [
        {"line_no": 1, "code": "XA000000000000000001", "name": "介入材料", "qty": "1", "unit_price": "30000.00",
         "amount": "30000.00", "category": "A", "self_pay_full": "0.00", "over_limit": "0.00",
         "pre_self_pay": "0.00", "in_scope": "30000.00", "reason": None}
    ],
}


class SettlementOut(BaseModel):
    """An itemised settlement 结算单."""

    model_config = ConfigDict(json_schema_extra={"example": EXAMPLE_SETTLEMENT})

    settlement_id: str | None = Field(description="null for a preview")
    status: Literal["preview", "settled", "reversed"]
    institution_code: str
    person_id: str
    encounter_id: str
    insutype: Insutype
    med_type: MedType
    encounter_date: dt.date
    accumulation_year: int
    policy_version: str
    cross_region: bool
    settled_at: str | None
    reversed_at: str | None
    totals: TotalsOut
    funds: list[FundOut]
    items: list[ItemOut]


class SettlementSummary(BaseModel):
    settlement_id: str
    status: Literal["settled", "reversed"]
    institution_code: str
    person_id: str
    encounter_id: str
    med_type: MedType
    encounter_date: dt.date
    settled_at: str
    reversed_at: str | None
    total: MoneyOut
    fund_total: MoneyOut
    cash: MoneyOut


class SettlementList(BaseModel):
    items: list[SettlementSummary]
    next_cursor: str | None
