"""Request and response bodies of /v1/simulations (api.md "Policy simulations")."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.kit.types import Text
from app.reference.schemas import POLICY_EXAMPLE


class SimulationIn(BaseModel):
    """数据测算: replay a period under a draft policy (api.md, "Policy simulations")."""

    # Works as-is on `--demo`: Dongguan residents over 2026 under the policy in force as
    # the draft (an identical draft: every difference is 0).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "region": "441900", "insutype": "390", "date_from": "2026-01-01", "date_to": "2026-12-31",
                "draft": POLICY_EXAMPLE, "name": "起付线测算 (示例)",
            }
        },
    )

    region: str = Field(pattern=r"^\d{6}$", description="insured region 参保地 of the persons replayed")
    insutype: Literal["310", "390"]
    date_from: dt.date = Field(description="first encounter date in scope")
    date_to: dt.date = Field(description="last encounter date in scope")
    draft: Any = Field(description="a full policy document (policy.md), validated as by PUT /v1/policies")
    name: Text | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _period(self) -> SimulationIn:
        if self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")
        return self


class SimulationCreated(BaseModel):
    simulation_id: uuid.UUID
    status: Literal["queued"]


class SimulationStatus(BaseModel):
    simulation_id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    progress: str = Field(description="replayed ÷ total, 0 to 1, two decimals", examples=["0.42"])
    replayed: int
    total: int
    error: str | None


class FundRow(BaseModel):
    fund: str
    baseline: str
    draft: str
    difference: str
    percent: str | None


class Burden(BaseModel):
    baseline: str
    draft: str
    deciles_baseline: list[str]
    deciles_draft: list[str]


class Change(BaseModel):
    person_id: str
    baseline: str
    draft: str
    difference: str


class SimulationResult(BaseModel):
    """api.md's result; the dimension rows are `{<dimension>, fund, baseline, draft}`."""

    settlements: int
    persons: int
    baseline_mismatches: int
    draft_refusals: int = Field(description="replayed settlements the draft refuses (counted as paid in cash)")
    funds: list[FundRow]
    by_med_type: list[dict[str, Any]]
    by_aid_category: list[dict[str, Any]]
    by_institution_level: list[dict[str, Any]]
    personal_burden: Burden
    top_changes: list[Change]
    caps_hit: dict[str, dict[str, int]]
