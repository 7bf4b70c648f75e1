"""The ops dashboard over HTTP: sign-in, the session cookie, sign-out, and the figures of
its charts read back from the page's data attributes."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from tests.helpers import make_asgi_client
from tests.ops.seed import expected, seed

pytestmark = pytest.mark.asyncio

FUND_NAMES = {"basic": "统筹基金", "critical_illness": "大病保险", "medical_aid": "医疗救助", "fallback": "兜底保障",
              "secondary_aid": "医疗再救助", "personal_account": "个人账户", "cash": "现金"}  # fmt: skip


class Charts(HTMLParser):
    """chart id → [(label, value)] from ``data-chart`` figures and their ``data-label`` bars."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[tuple[str, str]]] = {}
        self.current: str | None = None
        self.recon: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-chart" in a:
            self.current = a["data-chart"]
            self.charts[self.current] = []
        if "data-label" in a and self.current:
            self.charts[self.current].append((a["data-label"], a["data-value"]))
        if tag == "tr" and "data-institution" in a:
            self.recon.append(a)


def read(html: str) -> Charts:
    parser = Charts()
    parser.feed(html)
    return parser


def check_figures(charts: Charts, want: dict) -> None:
    c = charts.charts
    assert {k: Decimal(v) for k, v in c["fund-payments"]} == {FUND_NAMES[f]: v for f, v in want["by_fund"].items()}
    assert {k: Decimal(v) for k, v in c["top-institutions"]} == want["by_institution"]
    assert len(c["daily-settlements"]) == 90  # every day of the last 90, zero or not
    assert {k: int(v) for k, v in c["daily-settlements"] if v != "0"} == want["days"]
    # 1 capped of 4: 25.00 %
    share = (Decimal(want["capped"]) * 100 / want["settlements"]).quantize(Decimal("0.01"))
    assert dict(c["capped-share"])["达到封顶/限额"] == str(share)
    assert {k: Decimal(v) for k, v in c["aid-by-category"]} == {"低保对象": want["aid_minimum_living"]}
    assert dict(c["reconciliation"]) == {"对平": "1", "不平": "1"}
    assert sorted((r["data-institution"], r["data-kind"], r["data-balanced"]) for r in charts.recon) == [
        ("C44190000001", "details", "false"), ("H44190000001", "totals", "true")]  # fmt: skip


async def test_sign_in_dashboard_and_sign_out(app, world, hospital, community, ops):
    world_data = await seed(app, world, hospital, community, ops)
    want = expected(world_data)
    assert want["capped"] == 1 and want["settlements"] == 4
    async with make_asgi_client(app) as browser:
        r = await browser.get("/ops")
        assert r.status_code == 303 and r.headers["location"] == "/ops/login"
        r = await browser.get("/ops/login")
        assert r.status_code == 200 and 'name="key"' in r.text and 'method="post"' in r.text
        assert "Content-Security-Policy" in r.headers and "http" not in r.headers["Content-Security-Policy"]
        # a wrong key, an institution key: no session
        r = await browser.post("/ops/login", data={"key": "msk_wrong"})
        assert r.status_code == 401 and "medsettle_ops" not in r.headers.get("set-cookie", "")
        r = await browser.post("/ops/login", data={"key": hospital.key})
        assert r.status_code == 403 and "set-cookie" not in r.headers
        # the ops key: a cookie that is HttpOnly, SameSite=Strict, scoped to /ops, and not the key
        r = await browser.post("/ops/login", data={"key": ops.key})
        assert r.status_code == 303 and r.headers["location"] == "/ops"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Path=/ops" in cookie and ops.key not in cookie
        token = re.match(r"medsettle_ops=([^;]+)", cookie).group(1)
        assert await world.count("ops_sessions") == 1
        assert await world.count("ops_sessions", "token_hash = sha256($1::text::bytea)", token) == 1
        r = await browser.get("/ops")
        assert r.status_code == 200 and "医保结算运营看板" in r.text
        assert ops.key not in r.text and "<script" not in r.text and "http://" not in r.text.replace(
            'xmlns="http://www.w3.org/2000/svg"', "")
        check_figures(read(r.text), want)
        # sign out: the session is gone server-side
        r = await browser.post("/ops/logout")
        assert r.status_code == 303
        assert await world.count("ops_sessions") == 0
        browser.cookies.set("medsettle_ops", token, path="/ops")
        r = await browser.get("/ops")
        assert r.status_code == 303


async def test_a_revoked_key_ends_its_sessions(app, world, ops, admin_client):
    async with make_asgi_client(app) as browser:
        r = await browser.post("/ops/login", data={"key": admin_client.key})
        assert r.status_code == 303
        assert (await browser.get("/ops")).status_code == 200
        await world.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", admin_client.key_id)
        assert (await browser.get("/ops")).status_code == 303
