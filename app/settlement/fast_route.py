"""The settle fast route: ``POST /v1/settlements`` served as plain ASGI, ahead of
FastAPI's router.

FastAPI's per-request machinery (dependency solving, Request/Response objects, the
exception and exit-stack middleware) cost about 60 µs of CPU per settlement, a tenth of
the whole (docs/performance.md). This route skips it and calls the same functions the
documented endpoint's dependencies call, in the same order — `settlement_caller`,
`check_idempotency_key`, `read_body`, then `SettlementPipeline.settle` — so it answers
exactly as the documented endpoint does (tests/settlement/test_fast_route.py compares
them byte for byte). Errors are rendered by the app's own exception handlers.

Wired by one call, `install(app)`. Any other method or path goes through the app as
usual, where the documented endpoint serves it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from app.kit.routing import RESPONSE_STARTED, limit_body, max_body_bytes, read_body, send_json
from app.settlement.checks import check_idempotency_key, settlement_caller

PATH = "/v1/settlements"
_REPLAYED = ((b"idempotent-replayed", b"true"),)


async def serve_settle(scope: Scope, receive: Receive, send: Send) -> None:
    from app.settlement.router import settlement_pipeline

    state = scope["app"].state
    authorization = key_header = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"idempotency-key" and key_header is None:
            key_header = value.decode("latin-1")
    caller = await settlement_caller(state, authorization)
    idempotency_key = check_idempotency_key(key_header)
    raw = await read_body(receive)
    settled = await settlement_pipeline(state).settle(caller, idempotency_key, raw)
    await send_json(send, 201, settled.settlement.response, _REPLAYED if settled.replayed else (), scope)


class SettleFastRoute:
    """Pure ASGI middleware: exactly ``POST /v1/settlements`` goes to `serve_settle`;
    everything else to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route: Any = None  # the documented route, for the access log's route template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.route is None:
            from app.settlement.router import router

            self.route = next(r for r in router.routes if r.path == "/v1/settlements" and "POST" in r.methods)
        scope["route"] = self.route
        try:
            # The body limit of the documented route (api.md: 1 MiB by default), as
            # `DecimalJSONRoute.handle` applies it the other way in.
            await serve_settle(scope, limit_body(scope, receive, max_body_bytes(scope, self.route)), send)
        except ClientDisconnect:
            return
        except Exception as exc:
            if scope.get(RESPONSE_STARTED):
                raise
            handler = _exception_handler(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)


def _exception_handler(handlers: dict[Any, Any], exc: Exception) -> Any:
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


def install(app: FastAPI) -> None:
    """Serve POST /v1/settlements by the fast route. Call before the request-context
    middleware is added, so that it sits inside it (request id, access log, metrics)."""
    app.add_middleware(SettleFastRoute)
