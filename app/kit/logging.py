"""Structured logs (structlog, JSON lines) and the request-context middleware.

Each request binds ``request_id`` (from ``X-Request-ID`` when it is a sane token,
else generated; echoed in the response header), ``method`` and, once routed, the
route *template* (``/v1/persons/{person_id}``, never the concrete path, which may
hold a person id), and logs one ``request`` line with ``status``,
``duration_ms`` and, once auth has resolved the key, ``key_id``, ``role`` and
``institution`` (uvicorn's own access log is off). Bodies, names, certno,
amounts, API keys and e-voucher codes are never logged.

Every stdlib logger (uvicorn, alembic, SQLAlchemy, asyncpg) goes through the same
processors and renderer (`configure_logging`), so a line from a library carries the
``request_id`` of the request it happened in. Exception texts are scrubbed of what a
database error quotes (DETAIL, HINT, parameters, offending values; `scrub`); the
engines are also created with ``hide_parameters=True`` (app.kit.db).
"""

from __future__ import annotations

import itertools
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import IO, Any

import structlog
import structlog.tracebacks
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit import metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
log = structlog.get_logger("medsettle.http")

#: The handler configure_logging puts on the root logger (replaced, never duplicated).
_HANDLER_MARK = "_medsettle_handler"

#: Who called, for the access line: set by the request middleware to a fresh dict and
#: filled in by `bind_principal` when auth resolves the key. A dict (not only structlog's
#: contextvars) because a value bound in a child task or context copy would not reach the
#: middleware's access line; a mutation of the same dict does.
_CALLER: ContextVar[dict[str, str] | None] = ContextVar("medsettle_caller", default=None)


def bind_principal(key_id: object, role: str, institution_code: str | None) -> None:
    """Name the caller on every later log line of this request, and on its access line."""
    fields = {"key_id": str(key_id), "role": role}
    if institution_code is not None:
        fields["institution"] = institution_code
    structlog.contextvars.bind_contextvars(**fields)
    caller = _CALLER.get()
    if caller is not None:
        caller.update(fields)


# ---------------------------------------------------------------- scrubbing

# What a database error may carry besides its message: asyncpg puts the server's DETAIL
# ("Key (certno)=(110105…) already exists", "Failing row contains (P1, 王…, …)") and HINT
# in the exception text, SQLAlchemy appends "[parameters: …]" (off with hide_parameters,
# see app.kit.db) and asyncpg's own DataError quotes the offending argument.
_DETAIL = re.compile(r"\n(?:DETAIL|HINT):.*?(?=\n\[SQL|\n\(Background|\Z)", re.S)
_PARAMETERS = re.compile(r"^\[parameters: .*$", re.M)
_QUERY_ARGUMENT = re.compile(r"(query argument \$\d+)(?: in [^:\n]*)?: [^\n]*")
_INPUT_SYNTAX = re.compile(r'((?:invalid input (?:syntax|value) for (?:type )?[\w ]+|out of range for type [\w ]+)): "[^"\n]*"')
_REDACTED = "(redacted)"


def scrub(text: str) -> str:
    """``text`` (an exception's text) without the values a database error may quote."""
    if not text:
        return text
    text = _DETAIL.sub("\n(detail redacted)", text)
    text = _PARAMETERS.sub("[parameters redacted]", text)
    text = _QUERY_ARGUMENT.sub(r"\1: " + _REDACTED, text)
    return _INPUT_SYNTAX.sub(r'\1: "' + _REDACTED + '"', text)


def _scrub_exception(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    rendered = event_dict.get("exception")
    if isinstance(rendered, str):  # console: the formatted traceback
        event_dict["exception"] = scrub(rendered)
    elif isinstance(rendered, list):  # JSON: one dict per exception of the chain
        for entry in rendered:
            if isinstance(entry, dict) and isinstance(entry.get("exc_value"), str):
                entry["exc_value"] = scrub(entry["exc_value"])
    return event_dict


def _scrub_foreign_event(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A library's own message (uvicorn, SQLAlchemy, alembic) may embed an error's text."""
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = scrub(event)
    return event_dict


# ---------------------------------------------------------------- configuration


def configure_logging(level: str = "INFO", json: bool = True, stream: IO[str] | None = None) -> None:
    """structlog for the app, and the same processors and renderer for every stdlib
    logger (uvicorn, alembic, SQLAlchemy, asyncpg): one JSON line per event, with the
    request's ``request_id`` (and caller) when it happens inside a request."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    stream = stream if stream is not None else sys.stderr
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            _exception_processor(json),
            _scrub_exception,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.stdlib.add_logger_name,
            timestamper,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _scrub_foreign_event,
            _exception_processor(json),
            _scrub_exception,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries log at WARNING and above (SQLAlchemy at INFO would print every
    # statement); the service's own start-up lines (uvicorn, alembic) at the level asked.
    root.setLevel(max(numeric, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).setLevel(numeric)
    logging.getLogger("alembic.runtime.plugins").setLevel(max(numeric, logging.WARNING))  # "setup plugin …"
    # Our own access line replaces uvicorn's (it names the route template and the caller).
    access = logging.getLogger("uvicorn.access")
    access.handlers, access.propagate, access.disabled = [], False, True


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


_REQUEST_ID_PREFIX = uuid.uuid4().hex[:16]
_request_ids = itertools.count(1)


def new_request_id() -> str:
    """A request id unique across processes and restarts: a random 64-bit prefix per
    process and a counter (32 hex digits like a UUID's; no system call per request)."""
    return f"{_REQUEST_ID_PREFIX}{next(_request_ids) & 0xFFFFFFFFFFFFFFFF:016x}"


_access: tuple[tuple[int, ...], Any] = ((), None)


def access_log() -> Any:
    """``log``, bound once per structlog configuration. structlog's lazy logger builds a
    new bound logger on every call (``cache_logger_on_first_use`` is off so that
    reconfiguring, as tests do, takes effect): for the one line every request writes,
    that cost more than the line itself. Keyed on the configuration's objects, so a
    reconfiguration still applies from the next request on."""
    global _access
    config = structlog.get_config()
    key = (id(config["processors"]), id(config["wrapper_class"]), id(config["logger_factory"]),
           id(config["context_class"]))  # fmt: skip
    if _access[0] != key:
        _access = (key, log.bind())
    return _access[1]


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
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else new_request_id()
        method = scope["method"]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, method=method)
        caller: dict[str, str] = {}
        token = _CALLER.set(caller)
        start = time.perf_counter()
        status = 500

        status_sent = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_wrapper)
            except Exception as exc:
                # Answer (and log) an unhandled error here, while the request's id and caller
                # are still bound: left to Starlette's outermost handler, its log line would
                # have no request_id and its 500 no X-Request-ID. The app's own handler for
                # `Exception` (app.kit.errors) renders it, so the response is the same.
                handler = getattr(scope.get("app"), "exception_handlers", {}).get(Exception)
                if status_sent or handler is None:
                    raise
                response = await handler(Request(scope, receive), exc)
                await response(scope, receive, send_wrapper)
        finally:
            duration = time.perf_counter() - start
            route = route_template(scope)
            if route != "/metrics":
                metrics.observe(method, route, status, duration)
            access_log().info("request", route=route, status=status, duration_ms=round(duration * 1000, 2), **caller)
            _CALLER.reset(token)
            structlog.contextvars.clear_contextvars()


def _exception_processor(json: bool):  # type: ignore[no-untyped-def]
    """Tracebacks without frame locals: locals hold request bodies, keys and codes."""
    if json:
        return structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
    return structlog.processors.format_exc_info
