"""Request and response models: special-disease registrations, cross-region filings, referrals."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.kit.types import Day, InstitutionCode, Text

DiseaseCode = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9._\-]{1,32}$", examples=["M03900"], description="special disease code 门诊特定病种编码"),
]
PersonId = Annotated[Text, Field(min_length=1, max_length=64, examples=["P442000000006"])]
#: A region code; a province code `XX0000` covers every city of the province.
FilingRegion = Annotated[
    str,
    Field(
        pattern=r"^(?:0[1-9]|[1-9]\d)\d{4}$",
        examples=["440000"],
        description="6-digit region code (admdvs); a province code `XX0000` covers its cities",
    ),
]
FilingKind = Literal["resident", "temporary", "referral"]
Sites = Annotated[
    list[InstitutionCode],
    Field(min_length=1, max_length=50, description="chosen sites 选点: institution codes"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_dates(valid_from: dt.date, valid_to: dt.date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise ValueError("valid_to must not be before valid_from")


def _unique(sites: list[str] | str) -> list[str] | str:
    if isinstance(sites, list) and len(set(sites)) != len(sites):
        raise ValueError("sites must not repeat an institution")
    return sites


# ---------------------------------------------------------------- special-disease registrations


class RegistrationIn(Strict):
    """门诊特定病种认定: made by the certifying institution (the calling key's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "disease_code": "M03900",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-12-31",
                    "sites": ["C44200000001"],
                },
                {"disease_code": "M03900", "valid_from": "2026-01-01", "valid_to": "2026-12-31", "sites": "all"},
            ]
        },
    )
    disease_code: DiseaseCode
    valid_from: Day
    valid_to: Day
    sites: Sites | Literal["all"] = Field(
        description='chosen sites 选点 (institution codes), or `"all"` — every qualified site, only for '
        "persons with supplementary insurance where the policy allows it"
    )

    @field_validator("sites")
    @classmethod
    def _sites_unique(cls, sites: list[str] | str) -> list[str] | str:
        return _unique(sites)

    @model_validator(mode="after")
    def _dates(self) -> RegistrationIn:
        _check_dates(self.valid_from, self.valid_to)
        return self


class SitesChangeIn(Strict):
    """变更选点: the new sites apply from `effective_from`; the current version ends the day before."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"sites": ["H44200000002"], "effective_from": "2026-07-01"}},
    )
    sites: Sites | Literal["all"]
    effective_from: Day

    @field_validator("sites")
    @classmethod
    def _sites_unique(cls, sites: list[str] | str) -> list[str] | str:
        return _unique(sites)


REGISTRATION_EXAMPLE = {
    "registration_id": "0b7f3c1e-2f3a-4a55-8a0e-3f1c2b4d5e6f",
    "person_id": "P442000000006",
    "disease_code": "M03900",
    "certifier_code": "H44200000001",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "sites": ["C44200000001"],
    "all_sites": False,
    "created_at": "2026-01-05T09:30:00+08:00",
    "ended_at": None,
    "superseded_by": None,
}


class RegistrationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": REGISTRATION_EXAMPLE})

    registration_id: uuid.UUID
    person_id: str
    disease_code: str
    certifier_code: str | None = Field(description="the certifying institution 认定机构; null when made by ops (a monthly batch of applications an ops key filed, a screening confirmation)")
    valid_from: dt.date
    valid_to: dt.date
    sites: list[str] = Field(description="chosen sites 选点; empty when `all_sites`")
    all_sites: bool = Field(description="open to every qualified site (supplementary insurance)")
    created_at: dt.datetime
    ended_at: dt.datetime | None = Field(None, description="when this version was ended by a site change")
    superseded_by: uuid.UUID | None = Field(None, description="the version that replaced this one")


class RegistrationList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"items": [REGISTRATION_EXAMPLE], "next_cursor": None}})
    items: list[RegistrationOut]
    next_cursor: str | None


# ---------------------------------------------------------------- cross-region filings


class FilingIn(Strict):
    """异地就医备案."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"region": "110000", "valid_from": "2026-01-01", "valid_to": "2026-12-31", "kind": "resident"}
        },
    )
    region: FilingRegion
    valid_from: Day
    valid_to: Day
    kind: FilingKind = Field(
        description="`resident` 异地长期居住, `temporary` 临时外出就医, `referral` 转诊转院"
    )

    @model_validator(mode="after")
    def _dates(self) -> FilingIn:
        _check_dates(self.valid_from, self.valid_to)
        return self


FILING_EXAMPLE = {
    "filing_id": "5e1d7c52-9b8a-4f1e-9d3c-2a6b7c8d9e0f",
    "person_id": "P442000000006",
    "region": "110000",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "kind": "resident",
    "created_at": "2026-01-05T09:30:00+08:00",
}


class FilingOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": FILING_EXAMPLE})

    filing_id: uuid.UUID
    person_id: str
    region: str
    valid_from: dt.date
    valid_to: dt.date | None
    kind: str
    created_at: dt.datetime


class FilingList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"items": [FILING_EXAMPLE], "next_cursor": None}})
    items: list[FilingOut]
    next_cursor: str | None


# ---------------------------------------------------------------- referrals


class ReferralIn(Strict):
    """转诊转院备案 by the referring institution (the calling key's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "person_id": "P442000000006",
                "to_institution": "C44190000001",
                "origin_settlement_id": None,
                "valid_from": "2026-03-10",
                "valid_to": "2026-04-09",
            }
        },
    )
    person_id: PersonId
    to_institution: InstitutionCode
    origin_settlement_id: uuid.UUID | None = Field(
        None, description="the referring institution's settlement whose deductible 起付线 counts (upward referral)"
    )
    valid_from: Day
    valid_to: Day

    @model_validator(mode="after")
    def _dates(self) -> ReferralIn:
        _check_dates(self.valid_from, self.valid_to)
        return self


class ReferralOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "referral_id": "9a3c1b2d-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
                "person_id": "P442000000006",
                "from_institution": "H44190000001",
                "to_institution": "C44190000001",
                "direction": "downward",
                "origin_settlement_id": None,
                "valid_from": "2026-03-10",
                "valid_to": "2026-04-09",
                "created_at": "2026-03-10T10:00:00+08:00",
                "consumed_by": None,
            }
        }
    )

    referral_id: uuid.UUID
    person_id: str
    from_institution: str
    to_institution: str
    direction: Literal["downward", "upward", "same"] = Field(
        description="`downward` 下转 (receiving level lower), `upward` 上转 (higher), `same` 平级"
    )
    origin_settlement_id: uuid.UUID | None
    valid_from: dt.date
    valid_to: dt.date | None
    created_at: dt.datetime
    consumed_by: uuid.UUID | None = Field(None, description="the settlement that used the referral, while it stands")
