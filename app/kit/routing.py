"""Routing shared by every domain router.

`DecimalJSONRoute` parses JSON request bodies with decimal numbers as `Decimal`:
money may arrive as a JSON number (api.md), and `json.loads` would make it a
binary float before validation even starts. Every router that takes a body uses it.

Bodies are bounded before they are parsed (api.md, Conventions, "Bodies"):

* size: at most ``max_body_bytes`` (``MEDSETTLE_MAX_BODY_BYTES``, 1 MiB; a route may
  carry its own limit, see `body_limit`), else ``413 body_too_large``. A declared
  ``Content-Length`` over the limit is refused before anything is read; otherwise the
  read stops as soon as the limit is passed (chunked bodies included);
* nesting: JSON nested deeper than `MAX_JSON_DEPTH` is ``400 malformed_body``, found
  by a byte scan before any parser recurses (`check_json_depth`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Awaitable, Callable, ClassVar, Sequence

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from app.kit.errors import BadRequest, ProblemError, merge_problem_responses, problem_responses

#: api.md: JSON nested deeper than this is `400 malformed_body`.
MAX_JSON_DEPTH = 64
#: The default body limit when the app's settings do not say (api.md: 1 MiB).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(ProblemError):
    status, code, title = 413, "body_too_large", "Body too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.")


#: Every byte but brackets is deleted; ``{`` and ``}`` become ``[`` and ``]``.
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """``400 malformed_body`` when ``body`` nests arrays/objects deeper than ``limit``.

    A scan of the bytes, not a parse, and every step a C-speed pass: bodies with at most
    ``limit`` opening brackets in all (every usual one) cost two ``count`` calls. Others
    drop escaped backslashes and quotes, then the text between quotes (strings), keep only
    the brackets, and peel innermost ``[]`` pairs one level per pass: still non-empty after
    ``limit`` passes means deeper than ``limit``; unbalanced brackets are not JSON either."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(body.split(b'"')[::2])
    brackets = outside_strings.translate(_BRACKETS_ONLY, _NOT_BRACKETS)
    for _ in range(limit):
        peeled = brackets.replace(b"[]", b"")
        if peeled == brackets:
            if brackets:  # unbalanced: not JSON (and a parser would recurse into it)
                raise BadRequest("The request body is not valid JSON.")
            return
        brackets = peeled
    if brackets:
        raise BadRequest(f"The request body is nested deeper than {limit} levels.")


def max_body_bytes(scope: Scope, route: APIRoute | None) -> int:
    """The route's own limit, else the app's (``state.max_body_bytes``), else 1 MiB."""
    limit = getattr(route, "max_body_bytes", None)
    if limit is None:
        app = scope.get("app")
        limit = getattr(getattr(app, "state", None), "max_body_bytes", None) or DEFAULT_MAX_BODY_BYTES
    return limit


def limit_body(scope: Scope, receive: Receive, limit: int) -> Receive:
    """``receive`` that raises `BodyTooLarge` once more than ``limit`` body bytes arrived.
    A declared ``Content-Length`` over the limit is refused at the first call, before
    anything is read (and after auth, which reads no body)."""
    received = -1  # -1: the declared length is not checked yet

    async def limited() -> Message:
        nonlocal received
        if received < 0:
            received = 0
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        declared = int(value)
                    except ValueError:
                        declared = 0  # the server refuses a malformed length itself
                    if declared > limit:
                        raise BodyTooLarge(limit)
                    break
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return limited


class DecimalJSONRoute(APIRoute):
    """An APIRoute whose JSON body is parsed with `parse_float=Decimal`, never float,
    after its size and nesting were checked (module docstring). Its OpenAPI operation
    documents every problem it can answer (`default_problems`), whatever the route
    declared itself."""

    #: This route's body limit in bytes; None: the app's (`body_limit` sets it).
    max_body_bytes: ClassVar[int | None] = None
    #: Whether the route reads a request body (so the limit applies and 400/413 are
    #: documented); None: when it declares one.
    reads_body: ClassVar[bool | None] = None

    @property
    def has_body(self) -> bool:
        if self.reads_body is not None:
            return self.reads_body
        return self.body_field is not None or "requestBody" in (self.openapi_extra or {})

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        from app.kit.auth import _bearer

        #: The route takes an API key (it declares the bearer scheme): the key is checked
        #: before anything else (`handle`).
        self.needs_key = _bearer in _dependency_calls(self.dependant)
        self.responses = merge_problem_responses(self.responses, default_problems(self))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.needs_key:
            await authenticate_first(scope)
        if self.has_body:
            receive = limit_body(scope, receive, max_body_bytes(scope, self))
        await super().handle(scope, receive, send)

    def get_route_handler(self) -> Callable:
        original = super().get_route_handler()

        if self.methods and self.methods <= {"GET", "HEAD"}:
            return _retry_read(original)
        if self.body_field is None:  # no declared body (e.g. settle parses its own bytes)
            return original

        async def handler(request: Request) -> Response:
            if not hasattr(request, "_json"):
                body = await request.body()
                if body:
                    check_json_depth(body)
                    try:
                        request._json = json.loads(body, parse_float=Decimal)
                    except (ValueError, UnicodeDecodeError, RecursionError):
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


def _retry_read(original: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A read (GET) whose database connection turned out to be dead runs once more, on a
    fresh connection (the dead one was invalidated); lost again, it is 503."""
    from app.kit.dberrors import already_retried, connection_lost

    async def handler(request: Request) -> Response:
        try:
            return await original(request)
        except Exception as exc:
            if not connection_lost(exc) or already_retried(exc):
                raise
        return await original(request)

    return handler


async def authenticate_first(scope: Scope) -> None:
    """A presented key is checked before the body, the parameters or anything else is
    looked at: an unknown key is 401, a key of an inactive institution 403
    ``institution_inactive`` (api.md: "on every endpoint, before any other check"). The
    principal is kept in the scope for the route's `get_principal` dependency. (No key at
    all is left to that dependency: 401 once the request is parsed.)"""
    from app.kit.auth import PRINCIPAL_SCOPE_KEY, bearer_key, principal_for_key

    authorization = None
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    key = bearer_key(authorization)
    if key is not None:
        scope[PRINCIPAL_SCOPE_KEY] = (key, await principal_for_key(scope["app"].state, key))


def _dependency_calls(dependant: Any) -> set[Any]:
    calls = {dependant.call}
    for sub in dependant.dependencies:
        calls |= _dependency_calls(sub)
    return calls


def _has_params(dependant: Any) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params:
        return True
    return any(_has_params(sub) for sub in dependant.dependencies)


def default_problems(route: APIRoute) -> dict[int | str, dict[str, Any]]:
    """The problems any route of this kind can answer (api.md, Conventions, "Errors"):

    * a key is required: 401, 403 (role; ``institution_inactive``), and 503 — the key is
      looked up in the database (``database_unavailable``, ``busy``);
    * a body: 400 ``malformed_body`` (not JSON, nested too deep), 413 ``body_too_large``,
      422 ``validation_error``;
    * parameters (path, query, header): 422 ``validation_error``.

    Added centrally so no operation forgets one; a route's own codes come first."""
    from app.kit.auth import _bearer

    wanted: list[tuple[int, str] | int] = []
    # Every authenticated route declares the bearer scheme (`get_principal`, and the
    # settle route's own caller dependency, `app.settlement.checks`).
    if getattr(route, "needs_key", None) or _bearer in _dependency_calls(route.dependant):
        wanted += [401, 403, (403, "institution_inactive"), (503, "database_unavailable"), (503, "busy")]
    has_body = getattr(route, "has_body", route.body_field is not None)
    if has_body:
        wanted += [(400, "malformed_body"), (413, "body_too_large")]
    if has_body or _has_params(route.dependant):
        wanted += [(422, "validation_error")]
    return problem_responses(*wanted)


def operation_id(route: APIRoute) -> str:
    """The OpenAPI operationId: the endpoint function's name (snake_case, e.g. ``settle``,
    ``get_settlement``, ``lookup_person``) — readable, and stable as long as the function
    keeps its name. Unique across the app (tests/kit/test_contract.py checks)."""
    return route.name


def body_limit(max_bytes: int, route_class: type[APIRoute] = DecimalJSONRoute) -> type[APIRoute]:
    """``route_class_override=body_limit(256 * 1024 * 1024)``: a route with its own body limit."""
    return type(
        f"{route_class.__name__}_{max_bytes}", (route_class,), {"max_body_bytes": max_bytes, "reads_body": True}
    )


async def read_body(receive: Receive) -> bytes:
    """The whole JSON request body, as Starlette's ``Request.body()`` reads it, its
    nesting checked (`check_json_depth`). Its size is bounded by the ``receive`` that
    `DecimalJSONRoute` and the settlement fast route hand it (`limit_body`)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                body = b"".join(chunks)
                check_json_depth(body)
                return body
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
