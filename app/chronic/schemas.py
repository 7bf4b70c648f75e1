"""Request and response models: chronic-disease applications 慢性病鉴定申请, monthly batches, the
ledger 台账, active screening 主动筛查 (api.md, "Chronic-disease applications and screening")."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.kit.types import InstitutionCode, RegionCode
from app.registrations.schemas import DiseaseCode, PersonId, Sites

#: A batch or screening month, years 1900–2999 as every request date (app.kit.types.Day).
Month = Annotated[
    str, Field(pattern=r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$", examples=["2026-03"], description="Month 月份, YYYY-MM")
]
EvidenceText = Annotated[str, Field(min_length=1, max_length=500)]
Status = Literal["pending", "approved", "refused"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _unique(sites: list[str] | str) -> list[str] | str:
    if isinstance(sites, list) and len(set(sites)) != len(sites):
        raise ValueError("sites must not repeat an institution")
    return sites


class ApplicationIn(Strict):
    """慢性病鉴定申请, collected by a grassroots service point 基层医保服务点 (or ops)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # Works as-is on `--demo`: P510900000004 (Suining, registered poor) applies for
            # hypertension at 遂宁市第二人民医院.
            "example": {
                "disease_code": "M03900",
                "sites": ["H51090000002"],
                "evidence": ["出院记录 2026-03-02", "血压监测记录"],
                "note": "村社申报",
            }
        },
    )
    disease_code: DiseaseCode
    sites: Sites | Literal["all"]
    evidence: list[EvidenceText] = Field(
        default_factory=list,
        max_length=50,
        description="settlement ids (must be this person's settlements) or text describing a document",
    )
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("sites")
    @classmethod
    def _sites_unique(cls, sites: list[str] | str) -> list[str] | str:
        return _unique(sites)


class LedgerItem(BaseModel):
    """One line of the ledger 台账."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "application_id": "0190d6a4-0000-7000-8000-0000000000aa",
                "person_id": "P340100000003",
                "disease_code": "M07900",
                "month": "2026-03",
                "status": "refused",
                "reason": "检查报告不符合鉴定标准",
                "registration_id": None,
                "applied_by": "C34010000001",
                "decided_at": "2026-03-31T17:00:00+08:00",
                "source": "application",
                "created_at": "2026-03-10T09:00:00+08:00",
            }
        }
    )
    application_id: uuid.UUID
    person_id: str
    disease_code: str
    month: str = Field(description="the monthly batch it joins (YYYY-MM)")
    status: Status
    reason: str | None = Field(description="why it was refused (书面告知并登记在案)")
    registration_id: uuid.UUID | None = Field(description="the registration an approval created")
    applied_by: str | None = Field(description="the applying institution (service point); null when ops applied")
    decided_at: dt.datetime | None
    source: Literal["application", "screening"] = Field(
        description="`screening`: a registration confirmed by active screening 主动筛查 (零材料)"
    )
    created_at: dt.datetime


class Ledger(BaseModel):
    items: list[LedgerItem]
    next_cursor: str | None


class Decision(Strict):
    application_id: uuid.UUID
    decision: Literal["approve", "refuse"]
    reason: str | None = Field(default=None, min_length=1, max_length=1000, description="required to refuse")
    valid_from: dt.date | None = Field(default=None, description="approve: default the decision date (+08:00)")
    valid_to: dt.date | None = Field(default=None, description="approve: default 31 December of valid_from's year")

    @model_validator(mode="after")
    def _consistent(self) -> Decision:
        if self.decision == "refuse" and self.reason is None:
            raise ValueError("a refusal needs a reason (书面告知)")
        if self.decision == "refuse" and (self.valid_from is not None or self.valid_to is not None):
            raise ValueError("a refusal has no validity")
        if self.valid_from is not None and self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self


class BatchIn(Strict):
    """月底集中鉴定: decides applications of `month`, all or nothing."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                # The demo world's pending November application (app.demo.world.DEMO_APPLICATIONS).
                "month": "2026-11",
                "decisions": [
                    {"application_id": "d1157b18-26ed-459d-ac94-b59739194de5", "decision": "refuse",
                     "reason": "检查报告不符合鉴定标准"},
                ],
            }
        },
    )
    month: Month
    decisions: list[Decision] = Field(min_length=1, max_length=500)

    @field_validator("decisions")
    @classmethod
    def _once(cls, decisions: list[Decision]) -> list[Decision]:
        if len({d.application_id for d in decisions}) != len(decisions):
            raise ValueError("an application may be decided once per batch")
        return decisions


class BatchResult(BaseModel):
    application_id: uuid.UUID
    status: Literal["approved", "refused"]
    registration_id: uuid.UUID | None = None


class BatchOut(BaseModel):
    results: list[BatchResult]


class ScreeningIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"region": "340100", "month": "2026-03"}})
    region: RegionCode = Field(description="the persons' insured region 参保地")
    month: Month


class ScreeningEvidence(BaseModel):
    settlement_id: uuid.UUID
    encounter_date: dt.date
    institution_code: str
    diagnoses: list[str]


class Candidate(BaseModel):
    person_id: str
    disease_code: str
    evidence: list[ScreeningEvidence]


class ScreeningOut(BaseModel):
    candidates: list[Candidate]


class EvidenceRef(BaseModel):
    """A screening candidate's evidence item, as returned by POST /v1/screenings."""

    model_config = ConfigDict(extra="ignore")
    settlement_id: uuid.UUID
    encounter_date: dt.date | None = None
    institution_code: InstitutionCode | None = None
    diagnoses: list[str] | None = None


class ConfirmationIn(Strict):
    """零材料: ops confirms a screening candidate; the registration is made by ops (no certifier)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "person_id": "P510900000002",
                "disease_code": "M03900",
                "sites": ["H51090000002"],
                "evidence": ["住院病历: 原发性高血压 I10 (遂宁市第二人民医院)"],
            }
        },
    )
    person_id: PersonId
    disease_code: DiseaseCode
    sites: Sites | Literal["all"]
    evidence: list[EvidenceRef | EvidenceText] = Field(
        min_length=1, max_length=50, description="the candidate's evidence: its items or their settlement ids"
    )
    valid_from: dt.date | None = Field(default=None, description="default today (+08:00)")
    valid_to: dt.date | None = Field(default=None, description="default 31 December of valid_from's year")

    @field_validator("sites")
    @classmethod
    def _sites_unique(cls, sites: list[str] | str) -> list[str] | str:
        return _unique(sites)

    @model_validator(mode="after")
    def _dates(self) -> ConfirmationIn:
        if self.valid_from is not None and self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self
