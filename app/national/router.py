"""``POST /fsi/api/rsfComIfsService/callService``: the national platform's one endpoint.

Authentication stays HTTP (401 no or bad key, 403 another role, an inactive institution
or a ``fixmedins_code`` that is not the key's, 413 a body over 1 MiB). Everything else is
HTTP 200 with the national answer: ``infcode 0``, or ``-1`` with ``err_msg`` =
``"<problem code>: <detail>"`` (docs/national-interface.md).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from app.kit.auth import InstitutionPrincipal
from app.kit.clock import CST, now
from app.kit.errors import ProblemError, problem_responses
from app.kit.rawdb import DatabaseUnavailable, LockTimeout, pooled_connection
from app.kit.routing import DecimalJSONRoute
from app.national import jsontext, ports
from app.national.dispatch import HANDLERS
from app.national.exceptions import BodyTooLarge, InstitutionInactive, InstitutionMismatch, NationalRefusal
from app.national.schemas import Answer, Envelope
from app.national.service import Message, field_errors
from app.settlement.service import Caller

log = structlog.get_logger("medsettle.national")

PATH = "/fsi/api/rsfComIfsService/callService"
MAX_BODY = 1024 * 1024

router = APIRouter(tags=["national interface"], route_class=DecimalJSONRoute)


async def _body(request: Request) -> bytes:
    """The body, read no further than the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _stamp(moment: dt.datetime) -> str:
    local = moment.astimezone(CST)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def _answer(region: str, received: dt.datetime, responded: dt.datetime, output: Any, error: str | None) -> bytes:
    body = {
        "infcode": -1 if error is not None else 0,
        "inf_refmsgid": region + received.astimezone(CST).strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**10):010d}",
        "refmsg_time": _stamp(received),
        "respond_time": _stamp(max(responded, received)),
        "err_msg": error,
        "warn_msg": None,
        "enctype": "",
        "signtype": "",
        "cainfo": "",
        "output": output if output is not None else {},
    }
    return jsontext.dumps(body).encode()


def _failure(exc: ProblemError) -> str:
    return f"{exc.code}: {exc.detail or exc.title}"


@router.post(
    PATH,
    summary="National platform interface 国家医保信息平台 定点医药机构接口",
    description=(
        "The national envelope `{infno, msgid, mdtrtarea_admvs, insuplc_admdvs, fixmedins_code, inf_time, opter…, "
        "input: {<node>: {…}}}` with the institution's key; `fixmedins_code` must be the key's institution. "
        "Answers `{infcode, inf_refmsgid, refmsg_time, respond_time, err_msg, output}`: `infcode 0`, or `-1` with "
        "`err_msg` = `\"<problem code>: <detail>\"` for a refusal or a malformed message (always HTTP 200). "
        "Supported infno: " + ", ".join(sorted(HANDLERS)) + ". Amounts in `output` are JSON numbers with two "
        "decimals. Settles through the same pipeline as `POST /v1/settlements`; `msgid` is the idempotency key. "
        "See docs/national-interface.md."
    ),
    response_model=Answer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": Envelope.model_json_schema(),
                    "example": Envelope.model_json_schema()["example"],
                }
            },
        }
    },
    responses=problem_responses(
        401, 403, (403, "institution_inactive"), (403, "institution_mismatch"), (413, "body_too_large"), (503, "database_unavailable")
    ),
)
async def call_service(request: Request, principal: InstitutionPrincipal) -> Response:
    state = request.app.state
    received = now(state)
    institution_code = principal.institution_code
    assert institution_code is not None
    caller = Caller(key_id=principal.key_id, role=principal.role, institution_code=institution_code)
    region = "000000"
    try:
        async with pooled_connection(state.engine) as conn:
            institution = await ports.institution(conn, state, institution_code)
            if institution is None or not institution.active:
                raise InstitutionInactive()
            raw = await _body(request)
            region = institution.region
            try:
                envelope = _envelope(raw)
            except NationalRefusal as exc:
                return _respond(state, region, received, None, _failure(exc))
            if envelope.fixmedins_code != institution_code:
                raise InstitutionMismatch()
            handler = HANDLERS.get(envelope.infno)
            if handler is None:
                error = f"unsupported_infno: transaction {envelope.infno} is not supported by this service"
                return _respond(state, region, received, None, error)
            try:
                output = await handler(Message(envelope, conn, state, caller, institution, received))
            except (InstitutionMismatch, InstitutionInactive, BodyTooLarge):
                raise
            except ProblemError as exc:
                log.info("national_refused", infno=envelope.infno, code=exc.code)
                return _respond(state, region, received, None, _failure(exc))
    except (DatabaseUnavailable, LockTimeout) as exc:
        # The connection was lost or a lock wait timed out: nothing was written.
        return _respond(state, region, received, None, _failure(exc))
    return _respond(state, region, received, output, None)


def _respond(state: Any, region: str, received: dt.datetime, output: Any, error: str | None) -> Response:
    return Response(_answer(region, received, now(state), output, error), media_type="application/json")


def _envelope(raw: bytes) -> Envelope:
    if not raw.strip():
        raise NationalRefusal("malformed_body", "the request body is empty")
    try:
        document = jsontext.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise NationalRefusal("malformed_body", "the request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise NationalRefusal("malformed_body", "the request body is not a JSON object")
    if isinstance(document.get("input"), str):  # some HIS send the input node as JSON text
        try:
            document["input"] = jsontext.loads(document["input"])
        except (ValueError, RecursionError):
            raise NationalRefusal("validation_error", "input: must be an object of named nodes") from None
    if not isinstance(document.get("input", {}), dict):
        raise NationalRefusal("validation_error", "input: must be an object of named nodes")
    try:
        return Envelope.model_validate(document)
    except ValidationError as exc:
        raise NationalRefusal("validation_error", field_errors(exc, "envelope")) from None
