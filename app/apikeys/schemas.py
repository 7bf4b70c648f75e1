from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.kit.types import InstitutionCode, Text


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"role": "institution", "institution_code": "H44190000001", "label": "HIS prod"}},
    )
    role: Literal["institution", "wallet", "ops", "admin"]
    institution_code: InstitutionCode | None = Field(default=None, description="required for, and only for, role institution")
    label: Text = Field(default="", max_length=200, description="a note for operators; no personal data")

    @model_validator(mode="after")
    def _binding(self) -> ApiKeyIn:
        if (self.role == "institution") != (self.institution_code is not None):
            raise ValueError("institution_code is required for role institution and only for it")
        return self


class ApiKeyCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "key_id": "6f1c2a52-7d0e-4a53-9a59-3f8f2f0f1c11",
                "key": "msk_Jx3o8lq0bWm2bA5m4c1wqL8Z9XyF0T7kq2n3s4d5e6f",
                "role": "institution",
                "institution_code": "H44190000001",
            }
        }
    )
    key_id: UUID
    key: str = Field(description="shown once; store it now")
    role: str
    institution_code: str | None
