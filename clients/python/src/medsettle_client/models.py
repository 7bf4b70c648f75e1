"""Typed request and response models of the medsettle API (api.md).

Money is `Decimal` both ways: requests send it as strings ("12.30"), responses' two-decimal
strings are parsed exactly. Unknown response fields are ignored, so a server that grows a
field does not break a deployed client; `tests/clients/test_drift.py` in the medsettle
repository checks every field here against openapi/openapi.json.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar, Union

MedType = Literal["11", "14", "21", "41"]
"""医疗类别: 11 普通门诊, 14 门诊慢特病, 21 普通住院, 41 定点药店购药."""
Insutype = Literal["310", "390"]
"""险种类型: 310 职工基本医疗保险, 390 城乡居民基本医疗保险."""

T = TypeVar("T")


def _parse(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _parse(args[0], value) if len(args) == 1 else value
    if origin is list:
        (inner,) = typing.get_args(tp)
        return [_parse(inner, v) for v in value]
    if origin is Literal:
        return value
    if tp is Decimal:
        return Decimal(str(value))
    if tp is dt.date:
        return dt.date.fromisoformat(value)
    if tp is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value)  # type: ignore[arg-type]
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """A response model from its JSON object (unknown keys ignored)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _parse(hints[f.name], data[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kwargs[f.name] = None  # a null the server left out
    return cls(**kwargs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {k: _jsonable(v) for k, v in ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value)) if v is not None}
    return value


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class FeeLine:
    """One fee line 费用明细."""

    line_no: int
    code: str
    qty: Decimal
    unit_price: Decimal
    name: str | None = None


@dataclass(frozen=True)
class SettlementRequest:
    """An encounter to preview or settle 预结算/结算: exactly one of person_id and e_voucher_code."""

    encounter_id: str
    med_type: MedType
    encounter_date: dt.date | str
    items: list[FeeLine]
    person_id: str | None = None
    e_voucher_code: str | None = None
    institution_code: str | None = None
    insutype: Insutype | None = None
    admission_date: dt.date | str | None = None
    diagnoses: list[str] = field(default_factory=list)
    special_disease: str | None = None
    referral_id: str | None = None
    use_personal_account: bool = True

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class Totals:
    """The settlement's amounts (元)."""

    total: Decimal
    self_pay_full: Decimal
    over_limit: Decimal
    pre_self_pay: Decimal
    in_scope: Decimal
    deductible: Decimal
    pool_self_pay: Decimal
    over_cap: Decimal
    basic_fund: Decimal
    critical_illness: Decimal
    medical_aid: Decimal
    fallback: Decimal
    secondary_aid: Decimal
    fund_total: Decimal
    personal_total: Decimal
    personal_account: Decimal
    cash: Decimal


@dataclass(frozen=True)
class FundLine:
    fund: str
    fund_pay_type: str
    amount: Decimal
    basis: Decimal
    explanation: str


@dataclass(frozen=True)
class ItemLine:
    line_no: int
    code: str
    name: str | None
    qty: Decimal
    unit_price: Decimal
    amount: Decimal
    category: Literal["A", "B", "C"] | None
    self_pay_full: Decimal
    over_limit: Decimal
    pre_self_pay: Decimal
    in_scope: Decimal
    reason: str | None


@dataclass(frozen=True)
class Settlement:
    """An itemised settlement (preview, settled or reversed)."""

    settlement_id: str | None
    status: Literal["preview", "settled", "reversed"]
    institution_code: str
    person_id: str
    encounter_id: str
    insutype: str
    med_type: str
    encounter_date: dt.date
    accumulation_year: int
    policy_version: str
    cross_region: bool
    settled_at: dt.datetime | None
    reversed_at: dt.datetime | None
    totals: Totals
    funds: list[FundLine]
    items: list[ItemLine]
    #: Set by `settle`: the response was a replay of an earlier identical request.
    replayed: bool = False


@dataclass(frozen=True)
class SettlementSummary:
    settlement_id: str
    status: Literal["settled", "reversed"]
    institution_code: str
    person_id: str
    encounter_id: str
    med_type: str
    encounter_date: dt.date
    settled_at: dt.datetime
    reversed_at: dt.datetime | None
    total: Decimal
    fund_total: Decimal
    cash: Decimal


@dataclass(frozen=True)
class SettlementPage:
    items: list[SettlementSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class Enrollment:
    insutype: str
    valid_from: dt.date
    valid_to: dt.date | None


@dataclass(frozen=True)
class Person:
    """人员信息 (the person view of a lookup, like the national 1101)."""

    person_id: str
    certno: str
    name: str
    gender: str
    birth_date: dt.date
    insured_region: str
    aid_category: str | None
    account_balance: Decimal | None
    enrollments: list[Enrollment]


@dataclass(frozen=True)
class EVoucher:
    """An e-voucher code 医保电子凭证 for the insured's app; it settles once, until it expires."""

    code: str
    expires_at: dt.datetime
