"""The chart page of a simulation, ``/ops/simulations/{id}``, on the ops dashboard's stack.

Server-rendered HTML with inline SVG: no script, no asset from anywhere else. The page
belongs to the dashboard: a person signs in there (``/ops/login``, app.ops.router: an
ops or admin API key, an opaque HttpOnly, SameSite=Strict session cookie, never the key
itself) and is sent back here; every view checks that session.
"""

from __future__ import annotations

import html
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.kit.errors import ProblemError
from app.ops.router import signed_in
from app.simulations import service

router = APIRouter(include_in_schema=False)

FUND_NAMES = {
    "basic": "基本医保 basic", "critical_illness": "大病 critical illness", "medical_aid": "医疗救助 medical aid",
    "fallback": "兜底 fallback", "secondary_aid": "二次救助 secondary aid", "personal_account": "个人账户 account",
    "cash": "现金 cash",
}  # fmt: skip
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2rem;color:#1d2733;max-width:1100px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.9rem}td,th{padding:.25rem .6rem;border-bottom:1px solid #dde3ea;text-align:right}
th:first-child,td:first-child{text-align:left}.up{color:#b42318}.down{color:#067647}
.meta{color:#56606b}.key{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:middle}
form{display:grid;gap:.6rem;max-width:28rem}input{padding:.4rem;font:inherit}button{padding:.4rem .8rem;font:inherit}
"""


async def _signed_in(request: Request) -> bool:
    """Signed in to the ops dashboard (app.ops.router: its session cookie)."""
    async with request.app.state.sessionmaker() as session:
        return await signed_in(request, session) is not None


def _page(title: str, body: str, status: int = 200, refresh: int | None = None) -> HTMLResponse:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    text = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">{meta}'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status, headers=SECURITY_HEADERS)


def _num(text: str) -> float:
    # Display geometry only (bar lengths in pixels); every figure shown is the exact text.
    return float(Decimal(text))


def fund_bars(funds: list[dict[str, Any]]) -> str:
    """Horizontal bars, baseline (grey) and draft (blue), per fund."""
    width, label_w, row_h = 900, 190, 46
    top = max([_num(f["baseline"]) for f in funds] + [_num(f["draft"]) for f in funds] + [1.0])
    scale = (width - label_w - 170) / top
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * len(funds) + 10}" '
            'role="img" aria-label="funds, baseline and draft">'
        )
    ]
    for i, f in enumerate(funds):
        y = 5 + i * row_h
        name = html.escape(FUND_NAMES.get(f["fund"], f["fund"]))
        b, d = _num(f["baseline"]), _num(f["draft"])
        pct = f" ({html.escape(f['percent'])} %)" if f["percent"] is not None else ""
        parts.append(
            f'<text x="0" y="{y + 16}" font-size="13">{name}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{b * scale:.1f}" height="16" fill="#98a2b3"/>'
            f'<text x="{label_w + b * scale + 6:.1f}" y="{y + 17}" font-size="12">{html.escape(f["baseline"])}</text>'
            f'<rect x="{label_w}" y="{y + 22}" width="{d * scale:.1f}" height="16" fill="#2e90fa"/>'
            f'<text x="{label_w + d * scale + 6:.1f}" y="{y + 35}" font-size="12">{html.escape(f["draft"])}{pct}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def decile_lines(burden: dict[str, Any]) -> str:
    """Personal burden per person at the 10th…90th percentiles, baseline and draft."""
    width, height, pad = 900, 280, 60
    base = [_num(v) for v in burden["deciles_baseline"]]
    draft = [_num(v) for v in burden["deciles_draft"]]
    if not base:
        return "<p class=meta>No persons.</p>"
    top = max(base + draft + [1.0])

    def point(i: int, v: float) -> str:
        x = pad + i * (width - 2 * pad) / 8
        y = height - pad + 20 - v / top * (height - pad - 20)
        return f"{x:.1f},{y:.1f}"

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            'aria-label="personal burden deciles">'
        ),
        f'<line x1="{pad}" y1="{height - pad + 20}" x2="{width - pad}" y2="{height - pad + 20}" stroke="#98a2b3"/>',
    ]
    for values, colour in ((base, "#98a2b3"), (draft, "#2e90fa")):
        pts = " ".join(point(i, v) for i, v in enumerate(values))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for i, v in enumerate(values):
            x, y = point(i, v).split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{colour}"/>')
    for i in range(9):
        x = point(i, 0).split(",")[0]
        parts.append(f'<text x="{x}" y="{height - pad + 40}" font-size="12" text-anchor="middle">P{(i + 1) * 10}</text>')
        parts.append(f'<text x="{x}" y="{height - pad + 56}" font-size="11" text-anchor="middle" fill="#2e90fa">'
                     f'{html.escape(burden["deciles_draft"][i])}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _signed(value: str) -> str:
    amount = Decimal(value)
    cls = "up" if amount > 0 else ("down" if amount < 0 else "")
    return f'<td class="{cls}">{html.escape(value)}</td>'


def result_page(meta: dict[str, Any], result: dict[str, Any]) -> str:
    e = html.escape
    title = meta["name"] or "simulation"
    rows = "".join(
        f"<tr><td>{e(FUND_NAMES.get(f['fund'], f['fund']))}</td><td>{e(f['baseline'])}</td><td>{e(f['draft'])}</td>"
        f"{_signed(f['difference'])}<td>{e(f['percent'] or '—')}</td></tr>"
        for f in result["funds"]
    )
    changes = "".join(
        f"<tr><td>{e(c['person_id'])}</td><td>{e(c['baseline'])}</td><td>{e(c['draft'])}</td>{_signed(c['difference'])}</tr>"
        for c in result["top_changes"][:20]
    )
    caps = "".join(
        f"<tr><td>{e(cap)}</td><td>{result['caps_hit']['baseline'][cap]}</td><td>{result['caps_hit']['draft'][cap]}</td></tr>"
        for cap in ("basic_cap", "ci_cap", "aid_cap")
    )
    pb = result["personal_burden"]
    mismatch_class = "down" if result["baseline_mismatches"] == 0 else "up"
    return (
        f"<h1>数据测算 {e(title)}</h1>"
        f"<p class=meta>{e(meta['region'])} / {e(meta['insutype'])}, encounters {e(meta['date_from'])} – "
        f"{e(meta['date_to'])}: {result['settlements']} settlements of {result['persons']} persons; "
        f'baseline mismatches <b class="{mismatch_class}">{result["baseline_mismatches"]}</b>; '
        f"refused under the draft {result['draft_refusals']}.</p>"
        f'<h2>Funds <span class="key" style="background:#98a2b3"></span>baseline'
        f'<span class="key" style="background:#2e90fa"></span>draft</h2>'
        f"{fund_bars(result['funds'])}"
        f"<table><tr><th>fund</th><th>baseline</th><th>draft</th><th>difference</th><th>%</th></tr>{rows}</table>"
        f"<h2>Personal burden per person (deciles)</h2>"
        f"<p class=meta>total: baseline {e(pb['baseline'])}, draft {e(pb['draft'])}</p>{decile_lines(pb)}"
        f"<h2>Largest changes in personal burden</h2>"
        f"<table><tr><th>person</th><th>baseline</th><th>draft</th><th>difference</th></tr>{changes}</table>"
        f"<h2>Persons ending the year at a cap</h2>"
        f"<table><tr><th>cap</th><th>baseline</th><th>draft</th></tr>{caps}</table>"
        f'<form method="post" action="/ops/logout"><button type=submit>Sign out</button></form>'
    )


@router.get("/ops/simulations/{simulation_id}")
async def simulation_page(simulation_id: uuid.UUID, request: Request) -> Response:
    if not await _signed_in(request):
        return RedirectResponse(f"/ops/login?next={quote(request.url.path)}", status_code=303)
    async with request.app.state.sessionmaker() as session:
        try:
            status = await service.status(session, simulation_id)
        except ProblemError:
            return _page("not found", "<h1>No such simulation</h1>", status=404)
        if status["status"] != "done":
            error = f"<p class=up>{html.escape(status['error'])}</p>" if status["error"] else ""
            return _page(
                "simulation",
                f"<h1>Simulation {html.escape(status['status'])}</h1><p>progress {html.escape(status['progress'])} "
                f"({status['replayed']} of {status['total']} settlements)</p>{error}",
                refresh=2 if status["status"] in ("queued", "running") else None,
            )
        result, meta = await service.result(session, simulation_id)
    return _page(f"数据测算 {meta['name'] or simulation_id}", result_page(meta, result))

