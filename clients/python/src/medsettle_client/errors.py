"""Problems (RFC 9457 `application/problem+json`) as typed exceptions carrying `code`."""

from __future__ import annotations

from typing import Any

import httpx


class MedsettleError(Exception):
    """Any problem the service answered. `code` is the stable snake_case word (api.md)."""

    def __init__(self, status: int, code: str, title: str = "", detail: str = "",
                 errors: list[dict[str, Any]] | None = None, retry_after: float | None = None) -> None:  # fmt: skip
        super().__init__(f"{status} {code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.retry_after = retry_after


class BadRequest(MedsettleError):
    """400: the body is not readable JSON."""


class Unauthorized(MedsettleError):
    """401: no key or a bad key."""


class Forbidden(MedsettleError):
    """403: role not allowed, institution inactive or mismatched, credential required."""


class NotFound(MedsettleError):
    """404: unknown, or another institution's."""


class Conflict(MedsettleError):
    """409: encounter_already_settled, idempotency_key_reused, request_in_progress, …"""


class PayloadTooLarge(MedsettleError):
    """413: body over 1 MiB."""


class SettlementRefused(MedsettleError):
    """422: invalid input or a rule refusal (not_insured, no_policy, e_voucher_used, …)."""


class TooManyAttempts(MedsettleError):
    """429: too many failed attempts; wait `retry_after` seconds."""


class ServiceUnavailable(MedsettleError):
    """503: database_unavailable or busy; retry after `retry_after` seconds."""


class TransportError(MedsettleError):
    """No answer: connection refused, reset or timed out (status 0). A settle retried with the
    same Idempotency-Key is safe; other requests may be retried when they are reads."""


_BY_STATUS: dict[int, type[MedsettleError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: PayloadTooLarge, 422: SettlementRefused, 429: TooManyAttempts, 503: ServiceUnavailable,
}  # fmt: skip


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def problem_from(response: httpx.Response) -> MedsettleError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    cls = _BY_STATUS.get(response.status_code, MedsettleError)
    return cls(
        response.status_code,
        str(body.get("code") or "error"),
        str(body.get("title") or response.reason_phrase),
        str(body.get("detail") or ""),
        body.get("errors") if isinstance(body.get("errors"), list) else None,
        _retry_after(response),
    )
