"""Routing shared by every domain router.

`DecimalJSONRoute` parses JSON request bodies with decimal numbers as `Decimal`:
money may arrive as a JSON number (api.md), and `json.loads` would make it a
binary float before validation even starts. Every router that takes a body uses it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable, Sequence

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send


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


def json_request_body(model: type[Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body as bytes and parses it
    itself: documents ``model`` as the body, by the component name FastAPI gives it
    (the model is declared as a body elsewhere, so the component exists; a test checks
    that the reference resolves)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


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
