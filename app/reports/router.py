"""HTTP routes of reports: fund payments (api.md "Reports") and caps reached."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from app.kit.auth import InstitutionOrOpsPrincipal, Principal
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute
from app.kit.types import InstitutionCode, format_money
from app.reconciliation.exceptions import InvalidPeriod, NotYourInstitution
from app.reports import rollup, service
from app.reports.schemas import CapsReport, FundPayments

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=DecimalJSONRoute)

DateFrom = Annotated[dt.date, Query(description="first settlement day (+08:00)")]
DateTo = Annotated[dt.date, Query(description="last settlement day (+08:00)")]
InstitutionQ = Annotated[
    InstitutionCode | None, Query(description="one institution (an institution key: its own, or left out)")
]
CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}
MAX_DAYS = 3660


def _scope(principal: Principal, requested: str | None) -> str | None:
    if principal.role == "institution":
        if requested is not None and requested != principal.institution_code:
            raise NotYourInstitution("An institution key reports on its own institution only.")
        return principal.institution_code
    return requested


def _period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise InvalidPeriod("`date_to` is before `date_from`.")
    if (date_to - date_from).days > MAX_DAYS:
        raise InvalidPeriod("A report covers at most ten years.")


def _wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (format_money(v) if k == "amount" else v) for k, v in row.items()}


@router.get(
    "/fund-payments",
    summary="Fund payments 基金支付",
    description=(
        "What each fund paid on live settlements (not reversed when the report is asked), by settlement date "
        "(+08:00) in [`date_from`, `date_to`], grouped by `group_by`: a comma list of `fund`, `month` (`YYYY-MM`), "
        "`med_type`, `institution_level`, `institution_code`, `region` (the institution's), `aid_category` (the "
        "person's; null for none), `insutype`. `fund` is always a key. Funds: `basic`, `critical_illness`, "
        "`medical_aid`, `fallback`, `secondary_aid`, `personal_account`, `cash`. One row per group with a non-zero "
        "amount; `settlements` counts the group's settlements that paid from that fund. Rows are sorted by the keys "
        "in `group_by` order. `Accept: text/csv` → the same rows as CSV, the JSON keys as the header (UTF-8; fund "
        "names in Chinese). Ops and admin: any institution or all; an institution key: itself only."
    ),
    response_model=FundPayments,
    responses={
        200: {"content": CSV_CONTENT},
        **problem_responses(
            401, (403, "forbidden"), (403, "institution_not_allowed"), (422, "validation_error"),
            (422, "invalid_group_by"), (422, "invalid_period"),
        ),
    },
)  # fmt: skip
async def fund_payments(
    request: Request,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    date_from: DateFrom,
    date_to: DateTo,
    group_by: Annotated[str | None, Query(max_length=200, description="comma list; default `fund`")] = None,
    institution_code: InstitutionQ = None,
) -> Response:
    scope = _scope(principal, institution_code)
    _period(date_from, date_to)
    keys = service.parse_group_by(group_by)
    await rollup.fold(session, request.app.state.report_fold_margin)
    rows = await service.fund_payments(session, date_from, date_to, keys, scope)
    if _wants_csv(request):
        header = ["fund", "fund_name", *[k for k in keys if k != "fund"], "amount", "settlements"]
        return Response(service.rows_csv(rows, header), media_type="text/csv; charset=utf-8")
    return Response(orjson.dumps({"rows": [_json_row(r) for r in rows]}), media_type="application/json")


@router.get(
    "/caps",
    summary="Caps and limits reached 封顶线与限额",
    description=(
        "Persons who reached a cap or limit, per fund and month of settlement (+08:00), over live settlements in "
        "[`date_from`, `date_to`]. `basic`: settlements whose basic-fund payment was held by the annual cap 封顶线, "
        "a rule's annual limit or a special disease's limit (`over_cap` ≠ 0); `critical_illness`, `medical_aid`, "
        "`secondary_aid`: the settlement whose payment brought the person's paid-this-year to the policy's annual "
        "cap (categories without a cap never reach one). `persons` counts distinct persons, `settlements` those "
        "settlements. `Accept: text/csv` → CSV. Ops and admin: any institution or all; an institution key: itself."
    ),
    response_model=CapsReport,
    responses={
        200: {"content": CSV_CONTENT},
        **problem_responses(
            401, (403, "forbidden"), (403, "institution_not_allowed"), (422, "validation_error"),
            (422, "invalid_period"),
        ),
    },
)  # fmt: skip
async def caps(
    request: Request,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    date_from: DateFrom,
    date_to: DateTo,
    institution_code: InstitutionQ = None,
) -> Response:
    scope = _scope(principal, institution_code)
    _period(date_from, date_to)
    rows = await service.caps_reached(session, date_from, date_to, scope)
    if _wants_csv(request):
        return Response(
            service.rows_csv(rows, ["fund", "fund_name", "month", "persons", "settlements"]),
            media_type="text/csv; charset=utf-8",
        )
    return Response(orjson.dumps({"rows": rows}), media_type="application/json")


