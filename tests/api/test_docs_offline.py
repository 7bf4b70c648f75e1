"""/docs and /redoc work on an intranet: their pages name no other host, and every asset
they load is served by the service itself."""

from __future__ import annotations

import re

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
