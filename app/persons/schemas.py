"""Persons 参保人: request and response models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from app.kit.types import NO_CONTROL_CHARACTERS, Day, MoneyIn, MoneyOut, RegionCode, Text
from app.reference.schemas import AidCategory

_GENDERS = {"1": "male", "2": "female", "male": "male", "female": "female"}


def _gender(value: object) -> object:
    return _GENDERS.get(value, value) if isinstance(value, str) else value


Gender = Annotated[
    Literal["male", "female"],
    BeforeValidator(_gender),
    Field(description="`male`/`female`; the national codes `1`/`2` are accepted and stored as male/female"),
]
PersonId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]


class EnrollmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    insutype: Literal["310", "390"] = Field(description="310 职工基本医疗保险, 390 城乡居民基本医疗保险")
    valid_from: Day
    valid_to: Day | None = None
    tier: int | None = Field(
        default=None,
        ge=1,
        le=99,
        description="contribution tier 缴费档次 (picks the policy's tiered amounts); a change of tier is a new "
        "enrollment of the same insutype from the change date, the previous one ending the day before",
    )

    @model_validator(mode="after")
    def _ordered(self) -> EnrollmentIn:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


PERSON_EXAMPLE = {
    "certno": "44190019900101001X",
    "name": "张三",
    "gender": "male",
    "birth_date": "1990-01-01",
    "insured_region": "441900",
    "enrollments": [{"insutype": "390", "valid_from": "2026-01-01", "valid_to": None}],
    "retired": False,
    "supplementary": False,
    "aid_category": "minimum_living",
    "account_balance": "0.00",
}


class PersonIn(BaseModel):
    """An insured person 参保人 with the whole set of enrollments 参保 (replaced as a set)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": PERSON_EXAMPLE})
    certno: Text = Field(max_length=64, description="18-character resident ID 身份证号 with its check digit")
    name: Text = Field(min_length=1, max_length=100)
    gender: Gender
    birth_date: Day
    insured_region: RegionCode = Field(description="参保地")
    enrollments: list[EnrollmentIn] = Field(default_factory=list, max_length=50)
    retired: bool = False
    supplementary: bool = Field(default=False, description="补充医疗保险")
    aid_category: AidCategory | None = Field(default=None, description="医疗救助对象类别")
    account_balance: MoneyIn = Field(default=Decimal("0"), description="个人账户余额")

    @model_validator(mode="after")
    def _no_overlap(self) -> PersonIn:
        by_type: dict[str, list[EnrollmentIn]] = {}
        for e in self.enrollments:
            by_type.setdefault(e.insutype, []).append(e)
        for periods in by_type.values():
            periods.sort(key=lambda e: e.valid_from)
            for a, b in zip(periods, periods[1:]):
                if a.valid_to is None or a.valid_to >= b.valid_from:
                    raise ValueError("enrollments of the same insutype overlap")
        return self


class PersonLookupIn(BaseModel):
    """The credential the patient presents: the ID number 身份证号 or an e-voucher code 医保电子凭证."""

    model_config = ConfigDict(
        extra="forbid",
        # A demo-world person (P441900000001), so the example works as-is on `--demo`. An
        # e-voucher code has no fixed example: a wallet issues a fresh one (POST /v1/e-vouchers).
        json_schema_extra={"examples": [{"certno": "44190019600202003X"}]},
    )
    certno: Text | None = Field(default=None, min_length=1, max_length=64, description="身份证号")
    e_voucher_code: Text | None = Field(
        default=None, min_length=1, max_length=256, description="医保电子凭证 code; looking it up does not consume it"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PersonLookupIn:
        if (self.certno is None) == (self.e_voucher_code is None):
            raise ValueError("exactly one of certno and e_voucher_code is required")
        return self


#: ``?certno=``: the credential an institution must present to read a person by id.
CertnoQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=NO_CONTROL_CHARACTERS,
        description="the person's ID number 身份证号, as the patient presents it; required for institution keys",
    ),
]


class EnrollmentOut(BaseModel):
    insutype: str
    valid_from: dt.date
    valid_to: dt.date | None
    tier: int | None = Field(default=None, description="contribution tier 缴费档次, null when none")


class ActiveRegistration(BaseModel):
    """A special-disease registration active on the view's date (in `PersonView`)."""

    registration_id: UUID
    disease_code: str
    certifier_code: str | None = Field(description="the certifying institution; null when made by ops")
    valid_from: dt.date
    valid_to: dt.date
    all_sites: bool
    sites: list[str]


class ActiveFiling(BaseModel):
    """A cross-region filing active on the view's date (in `PersonView`)."""

    filing_id: UUID
    region: str
    kind: str
    valid_from: dt.date
    valid_to: dt.date | None


class PersonRecord(BaseModel):
    """The stored person with every enrollment (the answer to PUT)."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"person_id": "P441900000001", **PERSON_EXAMPLE, "updated_at": "2026-01-01T08:00:00+08:00"}}
    )
    person_id: str
    certno: str
    name: str
    gender: str
    birth_date: dt.date
    insured_region: str
    enrollments: list[EnrollmentOut]
    retired: bool
    supplementary: bool
    aid_category: str | None
    account_balance: MoneyOut
    updated_at: dt.datetime


class PersonView(BaseModel):
    """人员信息获取: the person as of a date, with what is active on it."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "person_id": "P441900000001",
                "as_of": "2026-03-10",
                "certno": "441900********001X",
                "name": "张三",
                "gender": "male",
                "birth_date": "1990-01-01",
                "insured_region": "441900",
                "retired": False,
                "supplementary": False,
                "aid_category": "minimum_living",
                "account_balance": None,
                "enrollments": [{"insutype": "390", "valid_from": "2026-01-01", "valid_to": None}],
                "registrations": [
                    {
                        "registration_id": "0b7f3c1e-2f3a-4a55-8a0e-3f1c2b4d5e6f",
                        "disease_code": "M03900",
                        "certifier_code": "H44190000001",
                        "valid_from": "2026-01-01",
                        "valid_to": "2026-12-31",
                        "all_sites": False,
                        "sites": ["C44190000001"],
                    }
                ],
                "filings": [],
            }
        }
    )
    person_id: str
    as_of: dt.date
    certno: str = Field(description="masked (first 6 and last 4) for institution keys")
    name: str
    gender: str
    birth_date: dt.date
    insured_region: str
    retired: bool
    supplementary: bool
    aid_category: str | None
    account_balance: MoneyOut | None = Field(description="个人账户余额; null for institution keys")
    enrollments: list[EnrollmentOut] = Field(description="enrollments active on `as_of`")
    registrations: list[ActiveRegistration] = Field(description="special-disease registrations 门诊特定病种认定 active on `as_of`")
    filings: list[ActiveFiling] = Field(description="cross-region filings 异地就医备案 active on `as_of`")


ACCUMULATOR_SCALARS = ("basic_paid", "ci_base", "ci_paid", "aid_base", "aid_paid", "sa_base", "sa_paid")


class AccumulatorsOut(BaseModel):
    """The year's accumulators 累计信息 (like the national 5206)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "person_id": "P441900000001",
                "year": 2026,
                "tier": 1,
                "basic_paid": "0.00",
                "deductible": {"outpatient": "100.00"},
                "limit": {"general_outpatient": "0.00"},
                "disease": {"M03900": "0.00"},
                "ci_base": "0.00",
                "ci_paid": "0.00",
                "aid_base": "0.00",
                "aid_paid": "0.00",
                "sa_base": "0.00",
                "sa_paid": "0.00",
                "account_balance": "0.00",
            }
        }
    )
    person_id: str
    year: int
    tier: int | None = Field(
        default=None,
        description="contribution tier 缴费档次 of the person's enrollment in force on the year's last day "
        "(today, for the current year); null when none",
    )
    basic_paid: MoneyOut
    deductible: dict[str, MoneyOut]
    limit: dict[str, MoneyOut]
    disease: dict[str, MoneyOut]
    ci_base: MoneyOut
    ci_paid: MoneyOut
    aid_base: MoneyOut
    aid_paid: MoneyOut
    sa_base: MoneyOut
    sa_paid: MoneyOut
    account_balance: MoneyOut
