"""Routing shared by every domain router.

`DecimalJSONRoute` parses JSON request bodies with decimal numbers as `Decimal`:
money may arrive as a JSON number (api.md), and `json.loads` would make it a
binary float before validation even starts. Every router that takes a body uses it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Awaitable, Callable, ClassVar, Sequence

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send


class DecimalJSONRoute(APIRoute):
    """An APIRoute whose JSON body is parsed with `parse_float=Decimal`, never float."""

    def get_route_handler(self) -> Callable:
        original = super().get_route_handler()

        if self.body_field is None:  # no declared body (e.g. settle parses its own bytes)
            return original

        async def handler(request: Request) -> Response:
            if not hasattr(request, "_json"):
                body = await request.body()
                if body:
                    try:
                        request._json = json.loads(body, parse_float=Decimal)
                    except (ValueError, UnicodeDecodeError):
                        pass  # FastAPI reports the malformed body itself
            return await original(request)

        return handler


class ASGIRoute(APIRoute):
    """A route documented like any other — its endpoint's signature makes the OpenAPI
    operation — but served by `asgi`, a plain ASGI callable: no dependency solving, no
    Request or Response objects. For the one hot route, POST /v1/settlements, where
    FastAPI's per-request machinery cost more CPU than the settlement's own calculation
    (docs/performance.md). Errors it raises go through the app's exception handlers
    like any route's."""

    asgi: ClassVar[Callable[[Scope, Receive, Send], Awaitable[None]]]

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            await super().handle(scope, receive, send)  # 405, as any route answers
            return
        await type(self).asgi(scope, receive, send)


def served_by(asgi: Callable[[Scope, Receive, Send], Awaitable[None]]) -> type[APIRoute]:
    """``route_class_override=served_by(handler)``: an `ASGIRoute` served by ``handler``."""
    return type(f"ASGIRoute_{asgi.__name__}", (ASGIRoute,), {"asgi": staticmethod(asgi)})


async def read_body(receive: Receive) -> bytes:
    """The whole request body, as Starlette's ``Request.body()`` reads it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


#: Set in the scope once a hot route has begun its response (an error can no longer be sent).
RESPONSE_STARTED = "medsettle.response_started"


async def send_json(
    send: Send, status: int, body: bytes, extra_headers: Sequence[tuple[bytes, bytes]] = (), scope: Scope | None = None
) -> None:
    if scope is not None:
        scope[RESPONSE_STARTED] = True
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HotRoutes:
    """Pure ASGI middleware: a request for one of ``routes`` — ``{(method, path): route}``,
    each an `ASGIRoute` — goes straight to the route's handler, skipping FastAPI's
    router, exception and exit-stack middleware (about 60 µs of CPU per request on
    FastAPI 0.165, a tenth of a settlement; docs/performance.md). Everything else, and
    any path the dict does not hold exactly, goes through the app as usual, where the
    same route serves it the same way. Errors are rendered by the app's own exception
    handlers, so a problem response is the same whichever way the request came."""

    def __init__(self, app: ASGIApp, routes: dict[tuple[str, str], ASGIRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # the access log and metrics name the route template
        try:
            await type(route).asgi(scope, receive, send)
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
