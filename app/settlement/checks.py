"""The checks a settle request passes before the pipeline, in this order: the key and
its role (401/403), the ``Idempotency-Key`` header (422), then the body (400/422, in
`app.settlement.pipeline.parse_settlement_request`).

The documented endpoint reaches them as FastAPI dependencies (`SettlementCaller`,
`IdempotencyKey`); the fast route calls the very same functions (`settlement_caller`,
`check_idempotency_key`) on the raw headers. Errors are the ones FastAPI itself would
give for ``Header(pattern=…)``, so either way answers byte for byte alike.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field, TypeAdapter, ValidationError

from app.kit.auth import Principal, _bearer, allowed_roles, authenticate, check_role
from app.settlement.service import Caller

IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,128}$"
IDEMPOTENCY_KEY_DESCRIPTION = "1–128 printable characters, unique per request within the institution"

_PATTERN = re.compile(IDEMPOTENCY_KEY_PATTERN)
_ADAPTER: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=IDEMPOTENCY_KEY_PATTERN)])
_LOC = ("header", "Idempotency-Key")
_INSTITUTION = allowed_roles("institution")


def caller_of(principal: Principal) -> Caller:
    return Caller(key_id=principal.key_id, role=principal.role, institution_code=principal.institution_code)


async def settlement_caller(state: Any, authorization: str | None) -> Caller:
    """The institution calling, from the ``Authorization`` header (401, then 403)."""
    return caller_of(check_role(await authenticate(state, authorization), _INSTITUTION))


def check_idempotency_key(value: str | None) -> str:
    """The header, checked as FastAPI checks a required ``Header(pattern=…)``."""
    if value is not None and _PATTERN.match(value):
        return value
    if value is None:
        raise RequestValidationError([{"type": "missing", "loc": _LOC, "msg": "Field required", "input": None}])
    try:
        _ADAPTER.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": _LOC} for e in exc.errors(include_url=False)]) from None
    raise AssertionError("unreachable: the pattern matched the adapter but not re")  # pragma: no cover


async def _caller_dependency(
    request: Request,
    # Declares the bearer scheme in the OpenAPI document; the header is read by `authenticate`.
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    return await settlement_caller(request.app.state, request.headers.get("authorization"))


async def _idempotency_key_dependency(
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            description=IDEMPOTENCY_KEY_DESCRIPTION,
            # Documented as FastAPI documents a pattern; checked by `check_idempotency_key`.
            json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN},
        ),
    ],
) -> str:
    # FastAPI has refused a missing header already, with the error `check_idempotency_key`
    # gives the fast route for it.
    return check_idempotency_key(idempotency_key)


SettlementCaller = Annotated[Caller, Depends(_caller_dependency)]
IdempotencyKey = Annotated[str, Depends(_idempotency_key_dependency)]
