"""HTTP routes of settlement: preview 预结算, settle 结算, reversal 撤销, read."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

from app.kit.auth import (
    InstitutionOrOpsPrincipal,
    InstitutionPrincipal,
    Principal,
    allowed_roles,
    bearer_key,
    check_role,
    principal_for_key,
)
from app.kit.clock import now
from app.kit.errors import BadRequest, Unauthorized, problem_responses
from app.kit.rawdb import RawConnection, after_commit
from app.kit.routing import DecimalJSONRoute, read_body, send_json, served_by
from app.kit.types import NO_CONTROL_CHARACTERS
from app.settlement import metrics
from app.settlement.reference_cache import ReferenceCache
from app.settlement.schemas import SettlementList, SettlementOut, SettlementRequest
from app.settlement.service import Caller, Outcome, SettlementService

IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,128}$"


def parse_settlement_request(raw: bytes) -> SettlementRequest:
    """The settle body, parsed and validated from its bytes by pydantic-core in one pass
    (JSON numbers become exact Decimals). Errors look like FastAPI's own."""
    try:
        return SettlementRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors) or not raw:
            raise BadRequest("The request body is not valid JSON.") from None
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in errors]
        ) from None


router = APIRouter(prefix="/v1/settlements", tags=["settlements"], route_class=DecimalJSONRoute)


def settlement_service(state: Any) -> SettlementService:
    service = getattr(state, "settlement_service", None)
    if service is None:
        service = state.settlement_service = SettlementService(ReferenceCache(state.reference), lambda: now(state))
    return service


async def get_service(request: Request) -> SettlementService:
    # async: a plain def dependency would be run in a worker thread on every request.
    return settlement_service(request.app.state)


Service = Annotated[SettlementService, Depends(get_service)]


def _caller(principal: Principal) -> Caller:
    return Caller(key_id=principal.key_id, role=principal.role, institution_code=principal.institution_code)


def _send(request: Request, outcome: Outcome) -> Response:
    for callback in outcome.after_commit:
        after_commit(request, callback)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return Response(outcome.body, status_code=outcome.status, media_type="application/json", headers=headers)


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
    body: SettlementRequest, principal: InstitutionPrincipal, conn: RawConnection, service: Service, request: Request
) -> Response:
    return _send(request, await service.preview(conn, body, _caller(principal)))


_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_IDEMPOTENCY_KEY_ADAPTER: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=IDEMPOTENCY_KEY_PATTERN)])
_INSTITUTION = allowed_roles("institution")
_REPLAYED = ((b"idempotent-replayed", b"true"),)


def _idempotency_key(value: str | None) -> str:
    """The header, checked as FastAPI would check ``Header(pattern=…)``, with its errors."""
    if value is not None and _IDEMPOTENCY_KEY.match(value):
        return value
    loc = ("header", "Idempotency-Key")
    if value is None:
        raise RequestValidationError([{"type": "missing", "loc": loc, "msg": "Field required", "input": None}])
    try:
        _IDEMPOTENCY_KEY_ADAPTER.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": loc} for e in exc.errors(include_url=False)]) from None
    raise AssertionError("unreachable: the pattern matched the adapter but not re")  # pragma: no cover


async def serve_settle(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /v1/settlements, as plain ASGI (see `ASGIRoute`): the same checks in the same
    order as the documented endpoint's dependencies — key and role (401/403), then
    ``Idempotency-Key`` (422), then the body (400/422) — before any connection is taken.

    The settlement is first tried optimistically (a read and one guarded write, each its
    own transaction, no lock held while the engine runs); when that declines, it runs
    again with the person locked, in one transaction, exactly as if the first try had not
    happened (docs/settlement.md, "The path")."""
    state = scope["app"].state
    authorization = key_header = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"idempotency-key" and key_header is None:
            key_header = value.decode("latin-1")
    api_key = bearer_key(authorization)
    if api_key is None:
        raise Unauthorized()
    caller = _caller(check_role(await principal_for_key(state, api_key), _INSTITUTION))
    idempotency_key = _idempotency_key(key_header)
    raw = await read_body(receive)
    body = parse_settlement_request(raw)
    service = settlement_service(state)
    async with state.held_connections.connection() as conn:
        outcome = await service.settle_optimistic(conn, body, caller, idempotency_key, raw)
        if isinstance(outcome, str):
            metrics.LOCKED[outcome].inc()
            async with conn.transaction():
                outcome = await service.settle(conn, body, caller, idempotency_key, raw)
        else:
            metrics.OPTIMISTIC.inc()
    for callback in outcome.after_commit:
        callback()
    await send_json(send, outcome.status, outcome.body.encode(), _REPLAYED if outcome.replayed else (), scope)


async def settle(
    principal: InstitutionPrincipal,
    conn: RawConnection,
    service: Service,
    request: Request,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="1–128 printable characters, unique per request within the institution",
        ),
    ],
) -> Response:
    """The operation as documented. Requests are served by `serve_settle`; this signature
    is what makes the OpenAPI operation (security, header, responses)."""
    raise AssertionError("POST /v1/settlements is served by serve_settle")  # pragma: no cover


router.add_api_route(
    "",
    settle,
    methods=["POST"],
    route_class_override=served_by(serve_settle),
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
    # The body is parsed by `parse_settlement_request` (one pydantic-core pass over the
    # raw bytes); its schema is the same SettlementRequest the preview route declares.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettlementRequest"}}},
        }
    },
    responses=problem_responses(
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
    ),
)
#: Served by `app.kit.routing.HotRoutes` ahead of FastAPI's router.
HOT_ROUTES = {("POST", "/v1/settlements"): router.routes[-1]}


@router.get(
    "/{settlement_id}",
    summary="Read a settlement 结算信息查询",
    description="The itemised settlement with its present status. An institution sees only its own.",
    response_model=SettlementOut,
    responses=problem_responses(401, 403, (404, "settlement_not_found")),
)
async def get_settlement(
    settlement_id: uuid.UUID, principal: InstitutionOrOpsPrincipal, conn: RawConnection, service: Service, request: Request
) -> Response:
    return _send(request, await service.get(conn, settlement_id, _caller(principal)))


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
    settlement_id: uuid.UUID, principal: InstitutionOrOpsPrincipal, conn: RawConnection, service: Service, request: Request
) -> Response:
    return _send(request, await service.reverse(conn, settlement_id, _caller(principal)))


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
    return await service.list(
        conn,
        _caller(principal),
        institution_code=institution_code,
        person_id=person_id,
        date_from=date_from,
        date_to=date_to,
        cursor=cursor,
        limit=limit,
    )
