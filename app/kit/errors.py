"""RFC 9457 problem details (``application/problem+json``) with a stable ``code``.

Domain errors subclass :class:`ProblemError` and carry their status and code;
one set of handlers renders them. Validation errors never echo the input.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://medsettle.example/problems/"

log = structlog.get_logger("medsettle.errors")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is, e.g. [\"body\", \"items\", 0, \"qty\"]")
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": TYPE_BASE + "validation_error",
                "title": "Invalid request",
                "status": 422,
                "code": "validation_error",
                "detail": "The request is not valid.",
                "errors": [{"loc": ["body", "certno"], "msg": "Field required"}],
            }
        }
    )

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Base of every error that becomes an HTTP problem response."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
        super().__init__(detail or self.title)


class BadRequest(ProblemError):
    status, code, title = 400, "malformed_body", "Malformed request body"


class Unauthorized(ProblemError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = "A valid API key is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class Unprocessable(ProblemError):
    status, code, title = 422, "validation_error", "Invalid request"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "code": code, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def clean_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors → ``[{loc, msg}]``, dropping ``input`` and ``ctx`` (may hold personal data)."""
    out = []
    for e in raw:
        loc = [p if isinstance(p, (str, int)) else str(p) for p in e.get("loc", ())]
        out.append({"loc": loc, "msg": str(e.get("msg", "invalid"))})
    return out


_BODY_PARSE_ERRORS = {"json_invalid", "value_error.jsondecode"}
#: Validation error types that give the problem its own code when they are all there is
#: (raised as ``PydanticCustomError(code, msg)`` by schema validators).
_CODED_ERRORS = {"amount_out_of_range"}
#: Field name → code: a bound error (ge/gt/le/lt) of such a field counts as that code.
_CODED_FIELDS: dict[str, str] = {}
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def coded_field_errors(code: str, *fields: str) -> None:
    """A bound error of one of these fields (pydantic's ``greater_than`` … on a field of
    that name) is reported with ``code`` — e.g. qty and unit_price, ``amount_out_of_range``."""
    _CODED_ERRORS.add(code)
    for name in fields:
        _CODED_FIELDS[name] = code


def _error_type(e: dict[str, Any]) -> Any:
    loc = e.get("loc") or ()
    if e.get("type") in _BOUND_ERRORS and loc and loc[-1] in _CODED_FIELDS:
        return _CODED_FIELDS[loc[-1]]
    return e.get("type")

_STATUS_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("body_too_large", "Body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Invalid request"),
    429: ("too_many_requests", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


async def _problem_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.code, exc.title, exc.detail, exc.errors, exc.headers)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(e.get("type") in _BODY_PARSE_ERRORS for e in raw):
        return problem_response(400, "malformed_body", "Malformed request body", "The request body is not valid JSON.")
    types = {_error_type(e) for e in raw}
    if len(types) == 1 and types <= _CODED_ERRORS:
        code = types.pop()
        return problem_response(
            422, code, code.replace("_", " ").capitalize(), "The request is not valid.", errors=clean_errors(raw)
        )
    return problem_response(
        422, "validation_error", "Invalid request", "The request is not valid.", errors=clean_errors(raw)
    )


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _STATUS_CODES.get(exc.status_code, ("error", "Error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(exc.status_code, code, title, detail, headers=getattr(exc, "headers", None))


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    """Whatever escaped: a problem+json 500 (never a plain traceback), even when the
    traceback itself cannot be rendered (a RecursionError's thousands of frames)."""
    try:
        log.error("unhandled_exception", exc_type=type(exc).__name__, exc_info=exc)
    except Exception:  # noqa: BLE001 - the answer must still go out
        try:
            log.error("unhandled_exception", exc_type=type(exc).__name__, traceback="unrenderable")
        except Exception:  # noqa: BLE001
            pass
    return problem_response(500, "internal_error", "Internal error", "An unexpected error occurred.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


def problem_responses(*statuses_and_codes: tuple[int, str] | int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry for a route: each status with the problem schema and its codes.

    ``problem_responses(401, 403, (404, "policy_not_found"), (422, "policy_invalid"))``
    """
    grouped: dict[int, list[str]] = {}
    for item in statuses_and_codes:
        status, code = (item, _STATUS_CODES.get(item, ("error", ""))[0]) if isinstance(item, int) else item
        grouped.setdefault(status, [])
        if code not in grouped[status]:
            grouped[status].append(code)
    return {status: _problem_entry(codes) for status, codes in sorted(grouped.items())}


#: The response field listing a problem status's codes (an OpenAPI extension).
CODES_KEY = "x-problem-codes"


def _problem_entry(codes: list[str]) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": "Problem; `code`: " + ", ".join(f"`{c}`" for c in codes),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        CODES_KEY: list(codes),
    }


def merge_problem_responses(
    declared: dict[int | str, dict[str, Any]], defaults: dict[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """``declared`` with every status of ``defaults`` added; where both have a problem
    entry for a status, their codes are joined (declared ones first)."""
    out = dict(declared)
    for status, entry in defaults.items():
        mine = out.get(status) if status in out else out.get(str(status))
        key = status if status in out or str(status) not in out else str(status)
        if mine is None:
            out[status] = entry
        elif CODES_KEY in mine:
            codes = list(mine[CODES_KEY]) + [c for c in entry[CODES_KEY] if c not in mine[CODES_KEY]]
            out[key] = _problem_entry(codes)
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))
