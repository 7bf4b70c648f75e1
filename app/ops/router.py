"""The ops dashboard 运营看板 at /ops: sign in with an ops (or admin) key through a form.

The key travels once, in the POST body of the sign-in form, never in a URL. The
browser then holds an opaque random session token in a cookie (HttpOnly,
SameSite=Strict, Path=/ops; Secure over https); the server keeps only its SHA-256 in
``ops_sessions`` with an expiry, and ends the session on sign-out or when the key is
revoked. Pages are server-rendered HTML with inline SVG charts: no script, no CDN.
"""

from __future__ import annotations

from typing import Any

import datetime as dt
import hashlib
import secrets
from decimal import Decimal
from html import escape
from urllib.parse import parse_qs

from sqlalchemy.ext.asyncio import AsyncSession
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app.kit.auth import principal_for_key
from app.kit.clock import today
from app.kit.db import DbSession
from app.kit.errors import ProblemError
from app.kit.types import format_money
from app.ops import repository, service
from app.ops.charts import bar_chart, column_chart
from app.reports.service import FUND_NAMES

router = APIRouter(prefix="/ops", tags=["ops dashboard"], include_in_schema=False)

COOKIE = "medsettle_ops"
SESSION_HOURS = 8
MAX_FORM_BYTES = 4096
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"

STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:0;background:#f5f6f8;color:#222}
header{background:#24466e;color:#fff;padding:10px 24px;display:flex;justify-content:space-between;align-items:center}
header form{margin:0} header button{background:#fff;color:#24466e;border:0;padding:4px 12px;cursor:pointer}
main{padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:16px}
section{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.1)}
section.wide{grid-column:1/-1} h2{font-size:16px;margin:4px 0 8px} figure{margin:0} figcaption{color:#555;font-size:13px}
svg text{font-size:12px;fill:#333} table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px}
.ok{color:#2e7d32}.bad{color:#c62828} .login{max-width:360px;margin:80px auto;background:#fff;padding:24px;border-radius:6px}
.login input{width:100%;box-sizing:border-box;padding:6px;margin:8px 0} .error{color:#c62828} .big{font-size:28px}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Frame-Options": "DENY",
                 "Referrer-Policy": "no-referrer"},
    )  # fmt: skip


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of the dashboard only (never off-site)."""
    if value and value.startswith("/ops") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ops"


def _login_form(error: str | None = None, status: int = 200, next_path: str = "/ops") -> HTMLResponse:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page(
        "登录 · 医保结算运营看板",
        '<div class="login"><h1>医保结算运营看板</h1>'
        f'{message}<form method="post" action="/ops/login">'
        '<label for="key">运营密钥 (ops / admin API key)</label>'
        '<input id="key" name="key" type="password" autocomplete="off" required>'
        f'<input type="hidden" name="next" value="{escape(safe_next(next_path))}">'
        '<button type="submit" id="signin">登录</button></form></div>',
        status,
    )


async def signed_in(request: Request, session: AsyncSession) -> Any:
    """The dashboard session of this browser (its key still active), or None. Every page
    under /ops (the dashboard, a simulation's chart page) signs in through it."""
    token = request.cookies.get(COOKIE)
    return await repository.find_session(session, _digest(token)) if token else None


@router.get("/login")
async def login_form(next: str | None = None) -> HTMLResponse:
    return _login_form(next_path=safe_next(next))


@router.post("/login")
async def login(request: Request, session: DbSession) -> Response:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _login_form("请求过大。", 413)
    form = parse_qs(body.decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    next_path = safe_next((form.get("next") or [""])[0])
    if not key:
        return _login_form("请输入密钥。", 422)
    try:
        principal = await principal_for_key(request.app.state, key)
    except ProblemError:
        return _login_form("密钥无效。", 401)
    if principal.role not in ("ops", "admin"):
        return _login_form("此密钥无权查看运营看板（需要 ops 或 admin）。", 403)
    token = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=SESSION_HOURS)
    await repository.create_session(session, _digest(token), principal.key_id, principal.role, expires)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE, token, max_age=SESSION_HOURS * 3600, path="/ops", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/logout")
async def logout(request: Request, session: DbSession) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        await repository.delete_session(session, _digest(token))
    response = RedirectResponse("/ops/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ops", httponly=True, samesite="strict")
    return response


def _money(value: Decimal) -> str:
    return format_money(value)


@router.get("")
async def dashboard(request: Request, session: DbSession) -> Response:
    found = await signed_in(request, session)
    if found is None:
        return RedirectResponse("/ops/login", status_code=303)
    board = await service.dashboard(session, today(request.app.state), request.app.state.report_fold_margin)
    period = f"{board.date_from.isoformat()} 至 {board.date_to.isoformat()}"
    # every day of the period, those without settlements as zero
    by_day = {d: (n, f) for d, n, f in board.daily}
    days = [board.date_from + dt.timedelta(days=k) for k in range((board.date_to - board.date_from).days + 1)]
    no_funds = {k: Decimal(0) for k in FUND_NAMES}
    series = [(d, *by_day.get(d, (0, no_funds))) for d in days]
    daily_count = column_chart(
        "daily-settlements", f"每日结算笔数（近 {service.DAYS} 天）",
        [(d.isoformat(), n, f"{n} 笔") for d, n, _ in series],
    )  # fmt: skip
    daily_funds = column_chart(
        "daily-fund-payments", "每日基金支付总额（元，不含个人账户和现金）",
        [(d.isoformat(), sum((f[k] for k in ("basic", "critical_illness", "medical_aid", "fallback",
                                              "secondary_aid")), Decimal(0)),
          "") for d, _, f in series],
    )  # fmt: skip
    daily_funds = daily_funds.replace(": </title>", "</title>")
    by_fund = bar_chart(
        "fund-payments", f"各基金支付（元，{period}）",
        [(FUND_NAMES[f], v, _money(v)) for f, v in board.by_fund],
    )  # fmt: skip
    top = bar_chart(
        "top-institutions", "基金支付最多的医药机构（前 10，元）",
        [(code, v, f"{_money(v)}（{n} 笔）") for code, v, n in board.top_institutions],
    )  # fmt: skip
    share = board.capped_share
    caps = bar_chart(
        "capped-share", "达到封顶线/限额的结算占比（%）",
        [("达到封顶/限额", share, f"{share}%（{board.capped}/{board.settlements} 笔）"),
         ("未达到", Decimal(100) - share if board.settlements else Decimal(0),
          f"{Decimal(100) - share if board.settlements else Decimal(0)}%")],
    )  # fmt: skip
    aid = bar_chart(
        "aid-by-category", "救助支出（医疗救助+兜底+再救助）按救助类别（元）",
        [(service.AID_CATEGORY_NAMES.get(c, c), v, _money(v)) for c, v in board.aid_by_category],
    )  # fmt: skip
    recon_rows = []
    balanced = unbalanced = 0
    for r in board.reconciliations:
        balanced += r.balanced
        unbalanced += not r.balanced
        mark = '<span class="ok">对平</span>' if r.balanced else '<span class="bad">不平</span>'
        recon_rows.append(
            f'<tr data-institution="{escape(r.institution_code)}" data-kind="{r.kind}" '
            f'data-balanced="{str(r.balanced).lower()}"><td>{escape(r.institution_code)}</td>'
            f"<td>{service.KIND_NAMES[r.kind]}</td><td>{r.date_from} 至 {r.date_to}</td><td>{mark}</td>"
            f"<td>{r.created_at.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y-%m-%d %H:%M}</td></tr>"
        )
    recon_chart = bar_chart(
        "reconciliation", "最近一期对账结果（机构×对账类型）",
        [("对平", balanced, f"{balanced} 项"), ("不平", unbalanced, f"{unbalanced} 项")] if recon_rows else [],
    )  # fmt: skip
    recon_table = (
        "<table><thead><tr><th>医药机构</th><th>类型</th><th>期间</th><th>结果</th><th>对账时间</th></tr></thead>"
        f"<tbody>{''.join(recon_rows)}</tbody></table>" if recon_rows else "<p>暂无对账记录</p>"
    )
    body = (
        '<header><h1 style="font-size:18px;margin:0">医保结算运营看板</h1>'
        f'<span>{escape(found.role)} · {period}</span>'
        '<form method="post" action="/ops/logout"><button type="submit" id="signout">退出</button></form></header>'
        "<main>"
        f'<section class="wide"><h2>每日结算</h2>'
        f'<p>近 {service.DAYS} 天结算 <b class="big" id="total-settlements">{board.settlements}</b> 笔</p>'
        f"{daily_count}{daily_funds}</section>"
        f"<section><h2>基金支付</h2>{by_fund}</section>"
        f"<section><h2>医药机构</h2>{top}</section>"
        f"<section><h2>封顶线与限额</h2>{caps}</section>"
        f"<section><h2>救助支出</h2>{aid}</section>"
        f'<section class="wide"><h2>对账</h2>{recon_chart}{recon_table}</section>'
        "</main>"
    )
    return _page("医保结算运营看板", body)
