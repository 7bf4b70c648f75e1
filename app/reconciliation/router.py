"""HTTP routes of reconciliation 对账: totals (3201) and details (3202)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from app.kit.auth import InstitutionOrOpsPrincipal
from app.kit.db import DbSession
from app.kit.errors import NotFound, problem_responses
from app.kit.routing import DecimalJSONRoute
from app.kit.types import InstitutionCode
from app.reconciliation import repository, service
from app.reconciliation.exceptions import UnsupportedMediaType
from app.reconciliation.schemas import DetailsResponse, TotalsRequest, TotalsResponse

router = APIRouter(prefix="/v1/reconciliations", tags=["reconciliation"], route_class=DecimalJSONRoute)

AUTH = (401, (403, "forbidden"), (403, "institution_not_allowed"))


@router.post(
    "/totals",
    summary="Totals reconciliation 对总账 (3201)",
    description=(
        "The institution's totals per insutype × clearing category (`clr_type` 11 for med_type 11 and 14, 21, 41) "
        "against the centre's records dated in the period (+08:00 days): a settlement is a record at its "
        "`settled_at`, its reversal a second record at its `reversed_at` with the amounts negated, so a claim "
        "settled and reversed in the period adds 0 money and 2 to `count`. `include_reversals: false` leaves "
        "reversal records out. `stmt_rslt`: `0` 对平 all four figures equal; `1` 中心多 every centre figure ≥ the "
        "institution's; `2` 医药机构多 every centre figure ≤; `3` 数据不一致 otherwise. An institution key "
        "reconciles itself (`institution_code` may be left out); ops and admin name any institution. "
        "Each run is kept (the dashboard shows the last)."
    ),
    response_model=TotalsResponse,
    responses=problem_responses(
        *AUTH, (422, "validation_error"), (422, "institution_code_required"), (422, "invalid_period"),
        (404, "institution_not_found"),
    ),
)  # fmt: skip
async def totals(body: TotalsRequest, principal: InstitutionOrOpsPrincipal, session: DbSession) -> TotalsResponse:
    code = service.institution_for(principal, body.institution_code)
    await _known_institution(session, code)
    rows = await service.reconcile_totals(session, code, body.date_from, body.date_to, body.rows)
    answer = TotalsResponse(institution_code=code, date_from=body.date_from, date_to=body.date_to, rows=rows)
    await repository.store_run(
        session, kind="totals", institution_code=code, date_from=body.date_from, date_to=body.date_to,
        balanced=all(r.stmt_rslt == "0" for r in rows), result=answer.model_dump(mode="json"),
        actor_key_id=principal.key_id,
    )  # fmt: skip
    return answer


async def _known_institution(session: Any, code: str) -> None:
    if not await repository.institution_exists(session, code):
        raise NotFound("No such institution.", code="institution_not_found")


DETAILS_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "The institution's records, one per line: CSV (`text/csv`) or TSV (`text/tab-separated-values`) with the "
            "header `settlement_id,encounter_id,person_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag`, "
            "or NDJSON (`application/x-ndjson`) objects with those keys. Up to 1,000,000 records, 256 MiB."
        ),
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "text/tab-separated-values": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
    "responses": {"200": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
}


@router.post(
    "/details",
    summary="Detail reconciliation 对明细账 (3202)",
    description=(
        "Records match on (`settlement_id`, `refd_setl_flag`); every difference is answered: `only_center` "
        "(`stmt_rslt` 1), `only_institution` (2), `amounts_differ` (3), with a summary where center_records = "
        "matched + amounts_differ + only_center and institution_records = matched + amounts_differ + "
        "only_institution. `Accept: text/csv` answers the differences as CSV. A bad file is `422` naming its line "
        "(the header is line 1; NDJSON counts from 1), a repeated (`settlement_id`, `refd_setl_flag`) is `422 "
        "duplicate_record`, more than 1,000,000 records or 256 MiB `413 body_too_large`; nothing is kept then. "
        "A successful run's summary is kept (the dashboard shows the last)."
    ),
    response_model=DetailsResponse,
    openapi_extra=DETAILS_BODY,
    responses=problem_responses(
        *AUTH, (404, "institution_not_found"), (413, "body_too_large"), (415, "unsupported_media_type"),
        (422, "validation_error"), (422, "reconciliation_file_invalid"), (422, "duplicate_record"),
        (422, "institution_code_required"), (422, "invalid_period"),
    ),
)  # fmt: skip
async def details(
    request: Request,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    date_from: Annotated[dt.date, Query(description="first day of the period (+08:00)")],
    date_to: Annotated[dt.date, Query(description="last day of the period (+08:00)")],
    institution_code: Annotated[InstitutionCode | None, Query(description="ops: the institution")] = None,
) -> Response:
    code = service.institution_for(principal, institution_code)
    service.check_period(date_from, date_to)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = service.MEDIA_KINDS.get(media)
    if kind is None:
        raise UnsupportedMediaType("Send text/csv, text/tab-separated-values or application/x-ndjson.")
    # The body first: no database connection is held while it streams in.
    institution = await service.read_detail_file(request.stream(), kind, service.MAX_BODY_BYTES)
    await _known_institution(session, code)
    result = await service.reconcile_details(session, code, date_from, date_to, institution)
    await repository.store_run(
        session, kind="details", institution_code=code, date_from=date_from, date_to=date_to,
        balanced=result.summary["matched"] == result.summary["center_records"] == result.summary["institution_records"],
        result={"summary": result.summary}, actor_key_id=principal.key_id,
    )  # fmt: skip
    if "text/csv" in request.headers.get("accept", ""):
        return Response(service.details_csv(result), media_type="text/csv; charset=utf-8")
    return Response(orjson.dumps(service.details_json(result)), media_type="application/json")
