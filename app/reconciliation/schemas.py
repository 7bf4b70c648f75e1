"""Request and response shapes of reconciliation (api.md "Reconciliation")."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.types import InstitutionCode, MoneyOut, decimal_type

#: A signed amount with at most two decimals (a period's totals may be negative).
SignedMoneyIn = decimal_type(places=2, example="1234.00")

ClrType = Literal["11", "21", "41"]
Insutype = Literal["310", "390"]

STMT_RSLT_DSCR = {"0": "对平", "1": "中心多", "2": "医药机构多", "3": "数据不一致"}


class TotalsRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    insutype: Insutype
    clr_type: ClrType
    medfee_sumamt: SignedMoneyIn
    fund_pay_sumamt: SignedMoneyIn
    acct_pay: SignedMoneyIn
    count: int = Field(ge=0, le=100_000_000)
    include_reversals: bool = True


class TotalsRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "institution_code": "H44190000001", "date_from": "2026-06-01", "date_to": "2026-06-30",
                "rows": [{"insutype": "390", "clr_type": "11", "medfee_sumamt": "1234.00",
                          "fund_pay_sumamt": "800.00", "acct_pay": "0.00", "count": 12, "include_reversals": True}],
            }
        },
    )  # fmt: skip
    institution_code: InstitutionCode | None = None
    date_from: dt.date
    date_to: dt.date
    rows: list[TotalsRowIn] = Field(min_length=1, max_length=1000)


class Figures(BaseModel):
    medfee_sumamt: MoneyOut
    fund_pay_sumamt: MoneyOut
    acct_pay: MoneyOut
    count: int


class TotalsRowOut(BaseModel):
    insutype: str
    clr_type: str
    stmt_rslt: Literal["0", "1", "2", "3"]
    stmt_rslt_dscr: str
    institution: Figures
    center: Figures


class TotalsResponse(BaseModel):
    institution_code: str
    date_from: dt.date
    date_to: dt.date
    rows: list[TotalsRowOut]


class Amounts(BaseModel):
    medfee_sumamt: MoneyOut
    fund_pay_sumamt: MoneyOut
    acct_pay: MoneyOut


class Difference(BaseModel):
    settlement_id: str
    refd_setl_flag: Literal["0", "1"]
    kind: Literal["only_center", "only_institution", "amounts_differ"]
    stmt_rslt: Literal["1", "2", "3"]
    center: Amounts | None
    institution: Amounts | None


class DetailsSummary(BaseModel):
    institution_records: int
    center_records: int
    matched: int
    only_center: int
    only_institution: int
    amounts_differ: int


class DetailsResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "summary": {"institution_records": 100, "center_records": 101, "matched": 98,
                            "only_center": 2, "only_institution": 1, "amounts_differ": 1},
                "differences": [{"settlement_id": "0190d6a4-0000-7000-8000-000000000001", "refd_setl_flag": "0",
                                 "kind": "only_center", "stmt_rslt": "1",
                                 "center": {"medfee_sumamt": "100.00", "fund_pay_sumamt": "60.00",
                                            "acct_pay": "0.00"},
                                 "institution": None}],
            }
        }
    )  # fmt: skip
    summary: DetailsSummary
    differences: list[Difference]

