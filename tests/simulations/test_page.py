"""The chart page /ops/simulations/{id} in headless Chromium, signed in through the ops
dashboard (app.ops.router), whose session it shares."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

from tests.world import H3, add_person, encounter
from tests.simulations.helpers import policy, simulate

pytestmark = pytest.mark.asyncio

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
async def done_simulation(world, make_client):
    hospital = await make_client("institution", H3)
    for n, (person, category) in enumerate((("R1", None), ("R2", "minimum_living"), ("R3", "low_income"))):
        await add_person(world, person, aid_category=category)
        for k in range(2):
            r = await hospital.post("/v1/settlements", headers={"Idempotency-Key": f"k{n}{k}"}, json=encounter(
                person, [("MATERIAL_A", str(n + 1), "3000.00")], encounter_id=f"E{n}{k}", date=f"2026-0{k + 3}-1{n}"))
            assert r.status_code == 201, r.text
    ops = await make_client("ops")
    result = await simulate(ops, policy({"basic.rules.0.deductible": "800"}))
    return ops, result["_id"]


async def test_page_needs_a_signed_in_ops_key(done_simulation, make_client, client):
    ops, sid = done_simulation
    r = await client.get(f"/ops/simulations/{sid}")
    assert r.status_code == 303 and r.headers["location"] == f"/ops/login?next=/ops/simulations/{sid}"
    # a bearer key is not a session: the page is for browsers
    r = await ops.get(f"/ops/simulations/{sid}")
    assert r.status_code == 303
    institution = await make_client("institution", H3)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await client.post("/ops/login", content=f"key=msk_not_a_key&next=/ops/simulations/{sid}", headers=form)
    assert r.status_code == 401 and "set-cookie" not in r.headers
    r = await client.post("/ops/login", content=f"key={institution.key}&next=/ops/simulations/{sid}", headers=form)
    assert r.status_code == 403 and "set-cookie" not in r.headers  # not an ops or admin key
    r = await client.post("/ops/login", content=f"key={ops.key}&next=//evil.example/", headers=form)
    assert r.status_code == 303 and r.headers["location"] == "/ops"  # never off-site
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "Path=/ops" in cookie
    assert ops.key not in cookie  # the key itself is never in the cookie
    r = await client.get(f"/ops/simulations/{sid}")
    assert r.status_code == 200 and "<svg" in r.text and "baseline mismatches" in r.text
    assert "http://" not in r.text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing loaded from elsewhere
    assert r.headers["content-security-policy"].startswith("default-src 'none'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is not installed")
async def test_page_in_headless_chromium(done_simulation, app, tmp_path):
    playwright = pytest.importorskip("playwright.async_api")
    import uvicorn

    ops, sid = done_simulation
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        async with playwright.async_playwright() as p:
            browser = await p.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
                viewport={"width": 1100, "height": 1500},
            )  # fmt: skip
            try:
                page = await browser.new_page()
                requests: list[str] = []
                page.on("request", lambda req: requests.append(req.url))
                await page.goto(f"http://127.0.0.1:{port}/ops/simulations/{sid}")
                assert "/ops/login" in page.url
                await page.fill("input[name=key]", ops.key)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"**/ops/simulations/{sid}")
                assert "数据测算" in await page.title()
                text = await page.inner_text("body")
                assert "baseline mismatches 0" in text.replace("\n", " ")
                assert await page.locator("svg").count() == 2
                assert await page.locator("svg rect").count() == 14  # 7 funds × baseline, draft
                assert await page.locator("svg polyline").count() == 2  # deciles, baseline and draft
                cookies = await browser.cookies()
                session = next(c for c in cookies if c["name"] == "medsettle_ops")
                assert session["httpOnly"] and session["sameSite"] == "Strict"
                assert await page.evaluate("document.cookie") == ""  # not readable by scripts
                assert all(u.startswith(f"http://127.0.0.1:{port}/") for u in requests), requests
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "simulation-page.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        server.should_exit = True
        await serving
