"""Routing shared by every domain router.

`DecimalJSONRoute` parses JSON request bodies with decimal numbers as `Decimal`:
money may arrive as a JSON number (api.md), and `json.loads` would make it a
binary float before validation even starts. Every router that takes a body uses it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute


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
