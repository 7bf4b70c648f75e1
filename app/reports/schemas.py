"""Response shapes of reports (api.md "Reports")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from app.kit.types import MoneyOut


class FundPaymentRow(BaseModel):
    """One group: ``fund`` and ``fund_name`` always, the other ``group_by`` keys when asked."""

    model_config = ConfigDict(extra="allow")
    fund: str
    fund_name: str
    month: str | None = None
    med_type: str | None = None
    institution_level: int | None = None
    institution_code: str | None = None
    region: str | None = None
    aid_category: str | None = None
    insutype: str | None = None
    amount: MoneyOut
    settlements: int


class FundPayments(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"rows": [{"fund": "basic", "fund_name": "统筹基金", "month": "2026-06", "amount": "123.40",
                                  "settlements": 3}]}
        }
    )  # fmt: skip
    rows: list[FundPaymentRow]


class CapsRow(BaseModel):
    fund: str
    fund_name: str
    month: str
    persons: int
    settlements: int


class CapsReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"rows": [{"fund": "basic", "fund_name": "统筹基金", "month": "2026-06", "persons": 2,
                                  "settlements": 3}]}
        }
    )  # fmt: skip
    rows: list[CapsRow]
