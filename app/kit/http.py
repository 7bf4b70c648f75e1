"""The HTTP/1.1 protocol the service runs under uvicorn: uvicorn's httptools protocol
with a response's status line and headers sent together with its body.

uvicorn writes the head of a response (``http.response.start``) and its body
(``http.response.body``) as two transport writes, which on an idle socket are two
``write`` system calls and two TCP segments, and wake the client twice. A profile of
the settle path under load (docs/performance.md) put ≈ 6 % of the service's CPU in the
first of them. Here the head is held back and goes out with the first body write: one
system call and one segment per response. A head that no body write follows in the
same event-loop step (a streamed response that awaits before its first chunk, a
response without a body) is flushed at the end of that step, so nothing waits longer
than the step that wrote it.

Used by ``medsettle serve`` (app.cli) and by ``bench/run.py`` for the service; any
ASGI server runs the app without it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD_START = b"HTTP/1.1 "
_HEAD_END = b"\r\n\r\n"


class _HeadWithBody:
    """A transport proxy: a response head is held until the next write (or the end of the
    event-loop step); every other call goes to the real transport."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(_HEAD_START) and data.endswith(_HEAD_END):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response head with its body."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeadWithBody(transport, self.loop))  # type: ignore[arg-type]


#: For uvicorn's ``http=`` setting (``--http app.kit.http:HttpProtocol``).
HTTP_PROTOCOL = "app.kit.http:HttpProtocol"
