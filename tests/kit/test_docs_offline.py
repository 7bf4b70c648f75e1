"""/docs and /redoc work on an intranet: their pages name no other host, and every asset
they load is served by the service itself."""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest

ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|(?:url|spec-url)\s*:\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_assets(client, page) -> None:
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), "a page that names another host"
    urls = {a or b for a, b in ASSET.findall(html)}
    scripts = {u for u in urls if u.endswith(".js")}
    assert scripts, "the page loads its UI script"
    for url in urls:
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    for url in scripts:
        # the real bundles are large; a stub would be a few bytes
        assert len((await client.get(url)).content) > 500_000, url


async def test_swagger_oauth2_redirect_and_openapi_are_served(client) -> None:
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # No other host resolves: what renders, renders offline.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=15000", "--dump-dom",
)  # fmt: skip


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs a headless chromium (apt-get install chromium)")
@pytest.mark.parametrize(("page", "rendered"), [("/docs", r'class="opblock'), ("/redoc", r"Liveness")])
async def test_docs_render_in_a_browser_without_internet(app, page, rendered, tmp_path) -> None:
    """The app served over a real socket (same process), a headless browser that can reach
    nothing else: Swagger UI lists the operations, ReDoc renders them."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        browser = await asyncio.create_subprocess_exec(
            shutil.which("chromium"), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path}",
            f"http://127.0.0.1:{port}{page}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        dom, _ = await asyncio.wait_for(browser.communicate(), 90)
    finally:
        server.should_exit = True
        await serving
    html = dom.decode(errors="replace")
    assert re.search(rendered, html), html[-2000:]
    assert "Settle" in html or "settle" in html  # the settlement operations are there
