"""HTTP routes of settlement: preview 预结算, settle 结算, reversal 撤销, read.

``POST /v1/settlements`` is an ordinary documented endpoint whose body runs: it checks
the key, the ``Idempotency-Key`` header and reads the body with the functions of
`app.settlement.checks`, then hands them to the one settlement pipeline. The fast
route (`app.settlement.fast_route`) serves the same path ahead of FastAPI's router by
calling those same functions in the same order; a test proves the two answer alike.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from app.kit.auth import InstitutionOrOpsPrincipal, InstitutionPrincipal
from app.kit.clock import now
from app.kit.errors import problem_responses
from app.kit.rawdb import RawConnection
from app.kit.routing import DecimalJSONRoute, json_request_body, read_body
from app.kit.types import NO_CONTROL_CHARACTERS
from app.settlement.checks import IdempotencyKey, SettlementCaller, caller_of
from app.settlement.pipeline import SettlementPipeline, pipeline_for
from app.settlement.schemas import SettlementList, SettlementOut, SettlementRequest
from app.settlement import rendering
from app.settlement.service import Settled, SettlementService

router = APIRouter(prefix="/v1/settlements", tags=["settlements"], route_class=DecimalJSONRoute)


def settlement_pipeline(state: Any) -> SettlementPipeline:
    return pipeline_for(state, lambda: now(state))


async def get_service(request: Request) -> SettlementService:
    # async: a plain def dependency would be run in a worker thread on every request.
    return settlement_pipeline(request.app.state).service


Service = Annotated[SettlementService, Depends(get_service)]


def json_response(body: bytes, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def settled_response(settled: Settled) -> Response:
    """201 and the stored body; a replay says so (``Idempotent-Replayed: true``)."""
    headers = {"Idempotent-Replayed": "true"} if settled.replayed else None
    return json_response(settled.settlement.response, 201, headers)


REFUSALS = [
    (422, code)
    for code in (
        "validation_error",
        "e_voucher_invalid",
        "e_voucher_expired",
        "e_voucher_used",
        "not_insured",
        "no_policy",
        "institution_inactive",
        "med_type_not_allowed",
        "cross_region_not_filed",
        "special_disease_not_registered",
        "site_not_chosen",
        "referral_invalid",
        "amount_out_of_range",
        "encounter_date_in_future",
    )
]


@router.post(
    "/preview",
    summary="Preview a settlement 预结算",
    description=(
        "Computes the settlement exactly as `POST /v1/settlements` would now, itemised and explained, "
        "and writes nothing: no accumulator moves, no e-voucher code is consumed. 预结算: 试算基金与个人负担。"
    ),
    response_model=SettlementOut,
    responses=problem_responses(
        401, 403, (403, "institution_mismatch"), (404, "person_not_found"), *REFUSALS, (429, "too_many_attempts")
    ),
)
async def preview(
    body: SettlementRequest, principal: InstitutionPrincipal, conn: RawConnection, service: Service
) -> Response:
    return json_response(rendering.preview_body(await service.preview(conn, body, caller_of(principal))), 200)


SETTLE_RESPONSES = problem_responses(
    400,
    401,
    403,
    (403, "institution_mismatch"),
    (404, "person_not_found"),
    (409, "encounter_already_settled"),
    (409, "idempotency_key_reused"),
    (409, "request_in_progress"),
    (409, "policy_changed"),
    *REFUSALS,
    (429, "too_many_attempts"),
    (503, "database_unavailable"),
    (503, "busy"),
)


@router.post(
    "",
    status_code=201,
    summary="Settle an encounter 结算",
    description=(
        "一站式结算: splits the bill between basic insurance 统筹基金, critical-illness insurance 大病保险, "
        "medical aid 医疗救助, fallback 兜底, secondary aid 二次救助, the personal account 个人账户 and cash, "
        "and moves this year's accumulators, in one transaction. Requires `Idempotency-Key`: a retry with "
        "the same key and body returns the stored response with `Idempotent-Replayed: true`; a duplicate "
        "arriving while the first is running waits for it (up to the lock timeout, then `409 request_in_progress`)."
    ),
    response_model=SettlementOut,
    # The body is read as bytes and parsed by the pipeline (one pydantic-core pass, the
    # bytes also being the idempotency fingerprint); this documents the model it parses.
    openapi_extra=json_request_body(SettlementRequest),
    responses=SETTLE_RESPONSES,
)
async def settle(caller: SettlementCaller, idempotency_key: IdempotencyKey, request: Request) -> Response:
    raw = await read_body(request.receive)
    return settled_response(await settlement_pipeline(request.app.state).settle(caller, idempotency_key, raw))


@router.get(
    "/{settlement_id}",
    summary="Read a settlement 结算信息查询",
    description="The itemised settlement with its present status. An institution sees only its own.",
    response_model=SettlementOut,
    responses=problem_responses(401, 403, (404, "settlement_not_found")),
)
async def get_settlement(
    settlement_id: uuid.UUID, principal: InstitutionOrOpsPrincipal, conn: RawConnection, service: Service
) -> Response:
    return json_response(rendering.stored_body(await service.get(conn, settlement_id, caller_of(principal))), 200)


@router.post(
    "/{settlement_id}/reversal",
    status_code=201,
    summary="Reverse a settlement 撤销结算",
    description=(
        "撤销: undoes exactly the accumulator and account deltas the settlement stored, frees its referral, "
        "and marks it `reversed` (`201`). A second reversal returns the same settlement (`200`). "
        "The e-voucher code it consumed stays used."
    ),
    response_model=SettlementOut,
    responses={
        200: {"description": "Already reversed: the settlement as it is", "model": SettlementOut},
        **problem_responses(401, 403, (404, "settlement_not_found"), (503, "database_unavailable")),
    },
)
async def reverse(
    settlement_id: uuid.UUID, principal: InstitutionOrOpsPrincipal, conn: RawConnection, service: Service
) -> Response:
    reversal = await service.reverse(conn, settlement_id, caller_of(principal))
    return json_response(rendering.stored_body(reversal.settlement), 201 if reversal.reversed_now else 200)


@router.get(
    "",
    summary="List settlements 结算记录",
    description="Newest last, by `settled_at`; page with `cursor`. An institution sees only its own.",
    response_model=SettlementList,
    responses=problem_responses(401, 403, (422, "validation_error")),
)
async def list_settlements(
    principal: InstitutionOrOpsPrincipal,
    conn: RawConnection,
    service: Service,
    institution_code: str | None = Query(default=None, max_length=32, pattern=NO_CONTROL_CHARACTERS),
    person_id: str | None = Query(default=None, max_length=64, pattern=NO_CONTROL_CHARACTERS),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int = Query(default=100, ge=1, le=500),
    cursor: str | None = Query(default=None, max_length=200, pattern=NO_CONTROL_CHARACTERS),
) -> dict[str, Any]:
    rows, next_cursor = await service.list(
        conn,
        caller_of(principal),
        institution_code=institution_code,
        person_id=person_id,
        date_from=date_from,
        date_to=date_to,
        cursor=cursor,
        limit=limit,
    )
    return rendering.list_page(rows, next_cursor)
