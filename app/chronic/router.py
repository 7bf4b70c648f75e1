"""HTTP routes: chronic-disease applications, monthly batches, the ledger, active screening
(api.md, "Chronic-disease applications and screening"; seeds 002, 004)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from app.chronic import service
from app.chronic.schemas import (
    ApplicationIn,
    BatchIn,
    BatchOut,
    ConfirmationIn,
    Ledger,
    LedgerItem,
    Month,
    ScreeningIn,
    ScreeningOut,
    Status,
)
from app.kit.auth import InstitutionOrOpsPrincipal, OpsPrincipal
from app.kit.clock import now
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute
from app.registrations.router import SITE_REFUSALS, _registration
from app.registrations.schemas import RegistrationOut

router = APIRouter(prefix="/v1", tags=["chronic diseases"], route_class=DecimalJSONRoute)

PersonPath = Annotated[str, Path(min_length=1, max_length=64, examples=["P510900000004"])]
AUTH = (401, 403)
REGISTRATION_REFUSALS = (*SITE_REFUSALS, (422, "registration_overlaps"))


@router.post(
    "/persons/{person_id}/chronic-applications",
    status_code=201,
    summary="Apply for a chronic-disease certificate 慢性病鉴定申报",
    description=(
        "A grassroots service point 基层医保服务点 (an institution key) or ops files an application with its "
        "evidence: settlement ids (which must be this person's settlements, else `evidence_invalid`) or text "
        "naming a document (门诊病历, 出院记录, 检查报告单). It joins the monthly batch of `month`: made on days "
        "1–25 (China time, +08:00), this month's; on days 26–31, the next month's (seed 004: 每月25日前报送, "
        "月底鉴定). The disease's rules are applied when the batch approves it."
    ),
    response_model=LedgerItem,
    responses=problem_responses(*AUTH, (404, "person_not_found"), (422, "validation_error"), (422, "evidence_invalid")),
)
async def apply(
    person_id: PersonPath, body: ApplicationIn, principal: InstitutionOrOpsPrincipal, session: DbSession, request: Request
) -> Any:
    return (await service.apply(session, principal, person_id, body, now(request.app.state)))._mapping


CSV_RESPONSE = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the ledger"}}


@router.get(
    "/chronic-applications",
    summary="The ledger of applications 慢性病台账",
    description=(
        "Every application and its decision, oldest first, optionally of one batch `month` and one `status`; "
        "registrations confirmed by active screening appear as approved lines with `source: screening`. "
        "With `Accept: text/csv` the same lines as CSV (a header row, then every line matching the filters "
        "from `cursor` on, unpaged; times in +08:00; a cell that a spreadsheet would read as a formula is "
        "prefixed with `'`)."
    ),
    response_model=Ledger,
    responses={**CSV_RESPONSE, **problem_responses(*AUTH, (422, "validation_error"))},
)
async def ledger(
    principal: OpsPrincipal,
    session: DbSession,
    month: Annotated[Month | None, Query(description="the batch month YYYY-MM")] = None,
    status: Annotated[Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    if accept is not None and "text/csv" in accept:
        text = await service.ledger_csv(session, month=month, status=status, cursor=cursor)
        return Response(
            content=text.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="chronic-applications.csv"'},
        )
    rows, next_cursor = await service.ledger_page(session, month=month, status=status, cursor=cursor, limit=limit)
    return {"items": [r._mapping for r in rows], "next_cursor": next_cursor}


@router.post(
    "/chronic-applications/batches",
    summary="Decide a monthly batch 月底集中鉴定",
    description=(
        "Decides applications of `month`, all or nothing. `approve` makes the special-disease registration "
        "(certifier: the applying institution, none when ops applied; from the decision date (+08:00) to "
        "31 December of that year unless `valid_from`/`valid_to` are given) with every rule of a registration "
        "except `certified_by`, which an ops decision is not subject to; `refuse` keeps the `reason` (书面告知并"
        "登记在案). Every decision is audited. Nothing is decided when: an application is unknown (`404 "
        "application_not_found`), already decided (`409 application_decided`), of another month (`422 "
        "application_not_in_batch`), or a registration rule refuses one approval (its `422`). A month's batch "
        "may run at any time, and more than once (each decides the applications it names)."
    ),
    response_model=BatchOut,
    responses=problem_responses(
        *AUTH,
        (404, "application_not_found"),
        (409, "application_decided"),
        (422, "application_not_in_batch"),
        *REGISTRATION_REFUSALS,
    ),
)
async def batch(body: BatchIn, principal: OpsPrincipal, session: DbSession, request: Request) -> Any:
    return {"results": await service.run_batch(session, principal, body, now(request.app.state))}


@router.post(
    "/screenings",
    summary="Active screening 主动筛查",
    description=(
        "Candidates for a chronic-disease certificate among the persons insured in `region`: a person with an "
        "`aid_category` among the disease's `aid_categories` (or a poverty category — `extreme_poverty`, "
        "`minimum_living`, `registered_poor` — when the disease names none), a live settlement at a hospital of "
        "level ≥ 2 with an `encounter_date` in `month` and a diagnosis under one of the disease's `diagnoses` "
        "prefixes (case-insensitive), and no registration for that disease active on the month's last day. "
        "The diseases are those of the region's policies in force on the month's last day that list "
        "`diagnoses`. Each candidate carries its settlements as evidence. Nothing is written."
    ),
    response_model=ScreeningOut,
    responses=problem_responses(*AUTH, (422, "validation_error")),
)
async def screening(body: ScreeningIn, principal: OpsPrincipal, session: DbSession) -> Any:
    # The body is the database's JSON (ScreeningOut's shape, tested): validating tens of
    # thousands of candidates again in Python would cost more than the query.
    return Response(content=(await service.screen(session, body)).encode(), media_type="application/json")


@router.post(
    "/screenings/confirmations",
    status_code=201,
    summary="Confirm a screening candidate 零材料办证",
    description=(
        "Makes the registration directly, with no paperwork (零材料): no certifier (`certifier_code` null; "
        "`certified_by` does not bind an ops decision), from today (+08:00) to 31 December unless given, "
        "with every other rule of a registration. The evidence (the candidate's settlements) is recorded in "
        "the ledger as an approved line with `source: screening`."
    ),
    response_model=RegistrationOut,
    responses=problem_responses(*AUTH, (404, "person_not_found"), (422, "evidence_invalid"), *REGISTRATION_REFUSALS),
)
async def confirm(body: ConfirmationIn, principal: OpsPrincipal, session: DbSession, request: Request) -> Any:
    return _registration(await service.confirm(session, principal, body, now(request.app.state)))
