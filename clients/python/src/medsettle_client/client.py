"""`MedsettleClient` (sync) and `AsyncMedsettleClient` (async), on httpx.

Both build every request the same way (`_Call`) and read every answer the same way
(`_read`); only the I/O differs. `ENDPOINTS` lists what each method calls, for the drift
test against openapi/openapi.json.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx

from medsettle_client.errors import MedsettleError, TransportError, problem_from
from medsettle_client.models import (
    EVoucher,
    Person,
    Settlement,
    SettlementPage,
    SettlementRequest,
    SettlementSummary,
    from_dict,
)

#: method name → (HTTP method, path template, request model, response model)
ENDPOINTS: dict[str, tuple[str, str, type | None, type | None]] = {
    "preview": ("POST", "/v1/settlements/preview", SettlementRequest, Settlement),
    "settle": ("POST", "/v1/settlements", SettlementRequest, Settlement),
    "get_settlement": ("GET", "/v1/settlements/{settlement_id}", None, Settlement),
    "reverse": ("POST", "/v1/settlements/{settlement_id}/reversal", None, Settlement),
    "list_settlements": ("GET", "/v1/settlements", None, SettlementPage),
    "slip": ("GET", "/v1/settlements/{settlement_id}/slip", None, None),
    "lookup_person": ("POST", "/v1/persons/lookup", None, Person),
    "issue_e_voucher": ("POST", "/v1/e-vouchers", None, EVoucher),
}

#: Answers a settle retries, with the same Idempotency-Key: the first request may or may
#: not have been applied, and the key makes the retry return exactly its result.
RETRY_STATUSES = frozenset({503})
RETRY_CODES = frozenset({"request_in_progress"})


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def _path(name: str, **values: str) -> str:
    return ENDPOINTS[name][1].format(**{k: str(v) for k, v in values.items()})


def _params(**values: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items() if v is not None}


def _read(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise problem_from(response)
    return response.json()


def _retryable(error: MedsettleError) -> bool:
    return isinstance(error, TransportError) or error.status in RETRY_STATUSES or error.code in RETRY_CODES


class _Base:
    def __init__(self, base_url: str, api_key: str, *, max_attempts: int = 5, backoff: float = 0.25,
                 max_delay: float = 10.0) -> None:  # fmt: skip
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "medsettle-client/0.1"}
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_delay = max_delay

    def _delay(self, attempt: int, error: MedsettleError) -> float:
        """Exponential backoff with jitter, never shorter than the server's Retry-After."""
        delay: float = self.backoff * (2**attempt) + random.uniform(0, self.backoff)
        return min(max(delay, error.retry_after or 0.0), self.max_delay)

    # ---- what each method sends
    @staticmethod
    def _settle_call(request: SettlementRequest, idempotency_key: str) -> _Call:
        # Serialized once: every retry sends the same bytes, so the server's fingerprint matches.
        body = json.dumps(request.to_json(), ensure_ascii=False, separators=(",", ":")).encode()
        return _Call("POST", _path("settle"), json=body,
                     headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"})  # fmt: skip

    @staticmethod
    def _slip_call(settlement_id: str, format: str, paper: str) -> _Call:
        return _Call("GET", _path("slip", settlement_id=settlement_id), params={"format": format, "paper": paper})

    @staticmethod
    def _list_call(**filters: Any) -> _Call:
        return _Call("GET", _path("list_settlements"), params=_params(**filters))

    @staticmethod
    def _lookup_call(certno: str | None, e_voucher_code: str | None) -> _Call:
        if (certno is None) == (e_voucher_code is None):
            raise ValueError("give exactly one of certno and e_voucher_code")
        body = {"certno": certno} if certno is not None else {"e_voucher_code": e_voucher_code}
        return _Call("POST", _path("lookup_person"), json=body)


class MedsettleClient(_Base):
    """Synchronous client. ``with MedsettleClient(url, key) as client: client.settle(...)``."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 **retry: Any) -> None:  # fmt: skip
        super().__init__(base_url, api_key, **retry)
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport)
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MedsettleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: _Call) -> httpx.Response:
        try:
            content = call.json if isinstance(call.json, bytes) else None
            body = None if content is not None else call.json
            return self._http.request(call.method, call.path, json=body, content=content, params=call.params,
                                      headers=call.headers)  # fmt: skip
        except httpx.TransportError as exc:
            raise TransportError(0, "transport_error", type(exc).__name__, str(exc)) from exc

    def _json(self, call: _Call) -> Any:
        return _read(self._send(call))

    # ---- settlements
    def preview(self, request: SettlementRequest) -> Settlement:
        """预结算: the settlement as it would be now; nothing is written."""
        return from_dict(Settlement, self._json(_Call("POST", _path("preview"), json=request.to_json())))

    def settle(self, request: SettlementRequest, idempotency_key: str | None = None) -> Settlement:
        """结算. Makes an Idempotency-Key when none is given; on 503, 409 request_in_progress or
        no answer at all, retries with backoff and the same key (so at most one settlement)."""
        call = self._settle_call(request, idempotency_key or str(uuid.uuid4()))
        for attempt in range(self.max_attempts):
            try:
                response = self._send(call)
                data = _read(response)
                return replace(from_dict(Settlement, data), replayed=response.headers.get("Idempotent-Replayed") == "true")
            except MedsettleError as error:
                if not _retryable(error) or attempt == self.max_attempts - 1:
                    raise
                self._sleep(self._delay(attempt, error))
        raise AssertionError("unreachable")  # pragma: no cover

    def get_settlement(self, settlement_id: str) -> Settlement:
        return from_dict(Settlement, self._json(_Call("GET", _path("get_settlement", settlement_id=settlement_id))))

    def reverse(self, settlement_id: str) -> Settlement:
        """撤销 (again: the same reversed settlement)."""
        return from_dict(Settlement, self._json(_Call("POST", _path("reverse", settlement_id=settlement_id))))

    def list_settlements(self, *, institution_code: str | None = None, person_id: str | None = None,
                         date_from: Any = None, date_to: Any = None, limit: int | None = None,
                         cursor: str | None = None) -> SettlementPage:  # fmt: skip
        call = self._list_call(institution_code=institution_code, person_id=person_id, date_from=date_from,
                               date_to=date_to, limit=limit, cursor=cursor)  # fmt: skip
        return from_dict(SettlementPage, self._json(call))

    def iter_settlements(self, **filters: Any) -> Iterator[SettlementSummary]:
        """Every settlement matching ``filters`` (as `list_settlements`), following the cursor."""
        cursor = None
        while True:
            page = self.list_settlements(cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def slip(self, settlement_id: str, format: Literal["html", "pdf"] = "html", paper: Literal["A4", "A5"] = "A4") -> bytes:
        """结算单: the HTML page or the PDF, as bytes."""
        response = self._send(self._slip_call(settlement_id, format, paper))
        if response.status_code >= 400:
            raise problem_from(response)
        return response.content

    # ---- persons and e-vouchers
    def lookup_person(self, *, certno: str | None = None, e_voucher_code: str | None = None) -> Person:
        """人员信息获取 by ID number or e-voucher code (the code is not consumed)."""
        return from_dict(Person, self._json(self._lookup_call(certno, e_voucher_code)))

    def issue_e_voucher(self, person_id: str) -> EVoucher:
        """(wallet keys) a new e-voucher code for the person."""
        return from_dict(EVoucher, self._json(_Call("POST", _path("issue_e_voucher"), json={"person_id": person_id})))


class AsyncMedsettleClient(_Base):
    """Asynchronous client: the same methods as `MedsettleClient`, awaited."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, **retry: Any) -> None:  # fmt: skip
        super().__init__(base_url, api_key, **retry)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport)
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMedsettleClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: _Call) -> httpx.Response:
        try:
            content = call.json if isinstance(call.json, bytes) else None
            body = None if content is not None else call.json
            return await self._http.request(call.method, call.path, json=body, content=content, params=call.params,
                                            headers=call.headers)  # fmt: skip
        except httpx.TransportError as exc:
            raise TransportError(0, "transport_error", type(exc).__name__, str(exc)) from exc

    async def _json(self, call: _Call) -> Any:
        return _read(await self._send(call))

    async def preview(self, request: SettlementRequest) -> Settlement:
        return from_dict(Settlement, await self._json(_Call("POST", _path("preview"), json=request.to_json())))

    async def settle(self, request: SettlementRequest, idempotency_key: str | None = None) -> Settlement:
        call = self._settle_call(request, idempotency_key or str(uuid.uuid4()))
        for attempt in range(self.max_attempts):
            try:
                response = await self._send(call)
                data = _read(response)
                return replace(from_dict(Settlement, data), replayed=response.headers.get("Idempotent-Replayed") == "true")
            except MedsettleError as error:
                if not _retryable(error) or attempt == self.max_attempts - 1:
                    raise
                await self._sleep(self._delay(attempt, error))
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_settlement(self, settlement_id: str) -> Settlement:
        return from_dict(Settlement, await self._json(_Call("GET", _path("get_settlement", settlement_id=settlement_id))))

    async def reverse(self, settlement_id: str) -> Settlement:
        return from_dict(Settlement, await self._json(_Call("POST", _path("reverse", settlement_id=settlement_id))))

    async def list_settlements(self, *, institution_code: str | None = None, person_id: str | None = None,
                               date_from: Any = None, date_to: Any = None, limit: int | None = None,
                               cursor: str | None = None) -> SettlementPage:  # fmt: skip
        call = self._list_call(institution_code=institution_code, person_id=person_id, date_from=date_from,
                               date_to=date_to, limit=limit, cursor=cursor)  # fmt: skip
        return from_dict(SettlementPage, await self._json(call))

    async def iter_settlements(self, **filters: Any) -> AsyncIterator[SettlementSummary]:
        cursor = None
        while True:
            page = await self.list_settlements(cursor=cursor, **filters)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def slip(self, settlement_id: str, format: Literal["html", "pdf"] = "html",
                   paper: Literal["A4", "A5"] = "A4") -> bytes:  # fmt: skip
        response = await self._send(self._slip_call(settlement_id, format, paper))
        if response.status_code >= 400:
            raise problem_from(response)
        return response.content

    async def lookup_person(self, *, certno: str | None = None, e_voucher_code: str | None = None) -> Person:
        return from_dict(Person, await self._json(self._lookup_call(certno, e_voucher_code)))

    async def issue_e_voucher(self, person_id: str) -> EVoucher:
        return from_dict(EVoucher, await self._json(_Call("POST", _path("issue_e_voucher"), json={"person_id": person_id})))
