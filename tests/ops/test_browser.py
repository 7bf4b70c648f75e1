"""The dashboard in a real headless browser (Debian's chromium, driven by Playwright).

A uvicorn server of the service runs on the test database; the browser signs in
through the form, the page must load without console errors, and the figures drawn
in the charts are read back from the page and compared with the seeded data.
Screenshots go to tests/artifacts/. Without chromium or Playwright the test is skipped
— except in CI (CI=true), where it fails instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.ops.seed import expected, seed
from tests.ops.test_dashboard import check_figures, read

pytestmark = pytest.mark.asyncio

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def _need_browser():
    missing = None
    try:
        from playwright.async_api import async_playwright  # noqa: F401
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    if missing is None and not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def server(database_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "MEDSETTLE_DATABASE_URL": database_url, "MEDSETTLE_LOG_LEVEL": "WARNING",
           "MEDSETTLE_REPORT_FOLD_INTERVAL_SECONDS": "0", "MEDSETTLE_DATA_DIR": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # fmt: skip
    env.pop("MEDSETTLE_BOOTSTRAP_ADMIN_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as c:
            for _ in range(200):
                if proc.poll() is not None:
                    raise RuntimeError("server exited: " + proc.stderr.read().decode(errors="replace")[-2000:])
                try:
                    if (await c.get(base + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_dashboard_in_chromium(app, world, hospital, community, ops, server, tmp_path):
    _need_browser()
    from playwright.async_api import async_playwright

    want = expected(await seed(app, world, hospital, community, ops))
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
            page = await context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))

            await page.goto(server + "/ops")
            assert page.url.endswith("/ops/login")
            await page.screenshot(path=str(ARTIFACTS / "ops-login.png"))
            await page.fill("#key", ops.key)
            await page.click("#signin")
            await page.wait_for_url(server + "/ops")
            await page.wait_for_selector("figure[data-chart='fund-payments'] svg")
            assert "key" not in page.url and ops.key not in page.url
            await page.screenshot(path=str(ARTIFACTS / "ops-dashboard.png"), full_page=True)

            # the cookie as the browser holds it
            cookies = {c["name"]: c for c in await context.cookies()}
            session = cookies["medsettle_ops"]
            assert session["httpOnly"] and session["sameSite"] == "Strict" and session["value"] != ops.key
            assert await page.evaluate("document.cookie") == ""  # HttpOnly: not readable by scripts

            # figures drawn, read back from the rendered DOM
            check_figures(read(await page.content()), want)
            bars = await page.eval_on_selector_all(
                "figure[data-chart='fund-payments'] g.bar",
                "els => els.map(e => [e.dataset.label, e.dataset.value, e.getBoundingClientRect().width])",
            )
            assert bars and all(width > 0 for _, _, width in bars)
            total = await page.inner_text("#total-settlements")
            assert int(total) == want["settlements"]
            assert Decimal(dict((k, v) for k, v, _ in bars)["统筹基金"]) == want["by_fund"]["basic"]
            assert all(u.startswith(server) for u in requests), requests  # nothing from outside

            await page.click("#signout")
            await page.wait_for_url(server + "/ops/login")
            await page.goto(server + "/ops")
            assert page.url.endswith("/ops/login")
        finally:
            await browser.close()
    assert errors == []
