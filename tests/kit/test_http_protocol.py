"""app.kit.http: the response head goes out with the body, in one write; responses are
unchanged (a real uvicorn server on a socket, streamed and empty responses included)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.kit.http import HttpProtocol, _HeadWithBody


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return f"extra:{name}"


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


async def test_head_and_body_are_one_write() -> None:
    transport = Recorder()
    proxy = _HeadWithBody(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    proxy.write(HEAD)
    assert transport.writes == []  # held
    proxy.write(b"{}")
    assert transport.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing held
    assert transport.writes == [HEAD + b"{}"]
    assert proxy.get_extra_info("peername") == "extra:peername"  # everything else passes through


async def test_a_head_without_a_body_in_the_same_step_is_flushed_at_its_end() -> None:
    transport = Recorder()
    proxy = _HeadWithBody(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    proxy.write(HEAD)
    await asyncio.sleep(0)
    assert transport.writes == [HEAD]
    proxy.write(b"later chunk")  # not a head: written at once
    assert transport.writes == [HEAD, b"later chunk"]
    proxy.write(HEAD)
    proxy.close()  # closing flushes first
    assert transport.writes[-1] == HEAD and transport.closed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_real_server_answers_every_kind_of_response_unchanged() -> None:
    async def json_route(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"amount": "12.34", "items": list(range(2000))})

    async def stream_route(request):  # type: ignore[no-untyped-def]
        async def chunks():  # type: ignore[no-untyped-def]
            yield b"first,"
            await asyncio.sleep(0.01)
            yield b"second"

        return StreamingResponse(chunks(), media_type="text/csv")

    async def empty_route(request):  # type: ignore[no-untyped-def]
        return Response(status_code=204)

    app = Starlette(routes=[Route("/json", json_route), Route("/stream", stream_route), Route("/empty", empty_route)])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, http=HttpProtocol, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(3):  # keep-alive: several responses on one connection
                r = await client.get("/json")
                assert r.status_code == 200 and r.json() == {"amount": "12.34", "items": list(range(2000))}
                r = await client.get("/stream")
                assert r.status_code == 200 and r.text == "first,second"
                r = await client.get("/empty")
                assert r.status_code == 204 and r.content == b""
                r = await client.head("/json")
                assert r.status_code in (200, 405) and r.content == b""
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
