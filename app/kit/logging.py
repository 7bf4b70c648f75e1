"""Structured logs (structlog, JSON lines) and the request-context middleware.

Each request binds ``request_id`` (from ``X-Request-ID`` when it is a sane token,
else generated; echoed in the response header), ``method`` and, once routed, the
route *template* (``/v1/persons/{person_id}``, never the concrete path, which may
hold a person id), and logs one ``request`` line with ``status`` and
``duration_ms``. Bodies, names, certno, amounts, API keys and e-voucher codes are
never logged.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
import structlog.tracebacks
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit import metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
log = structlog.get_logger("medsettle.http")


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _exception_processor(json),
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Pure ASGI middleware: request id, one access log line, Prometheus metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        method = scope["method"]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, method=method)
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            duration = time.perf_counter() - start
            route = route_template(scope)
            if route != "/metrics":
                metrics.observe(method, route, status, duration)
            log.info("request", route=route, status=status, duration_ms=round(duration * 1000, 2))
            structlog.contextvars.clear_contextvars()


def _exception_processor(json: bool):  # type: ignore[no-untyped-def]
    """Tracebacks without frame locals: locals hold request bodies, keys and codes."""
    if json:
        return structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
    return structlog.processors.format_exc_info
