"""GET /v1/settlements/{settlement_id}/slip — the patient's settlement slip 结算单 (HTML or PDF)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from app.kit.routing import DecimalJSONRoute

from app.kit.auth import InstitutionOrOpsPrincipal
from app.kit.clock import today
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.settlement.slip import render_html, render_pdf
from app.settlement.slip_service import load_slip

router = APIRouter(prefix="/v1/settlements", tags=["settlements"], route_class=DecimalJSONRoute)

PDF = "application/pdf"


def _wants_pdf(format_: str | None, accept: str | None) -> bool:
    """``?format=`` decides; else the PDF when ``Accept`` names it at least as high as HTML
    (q-values; a browser's ``text/html,…,*/*;q=0.8`` gets the page)."""
    if format_ is not None:
        return format_ == "pdf"
    if not accept:
        return False
    q: dict[str, float] = {}
    for part in accept.lower().split(","):
        media, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    weight = float(param[2:])
                except ValueError:
                    weight = 0.0
        q[media] = max(q.get(media, 0.0), weight)
    pdf = q.get(PDF, 0.0)
    html = max(q.get("text/html", 0.0), q.get("text/*", 0.0), q.get("*/*", 0.0))
    return pdf > 0 and pdf >= html


@router.get(
    "/{settlement_id}/slip",
    summary="The settlement slip 结算单 (HTML or PDF)",
    description=(
        "The patient's one-stop settlement slip 一站式结算单, in Chinese: head (region + 基本医疗保险一站式结算单, "
        "institution and level, print date, unit 元), the person (certno masked), the year to date right after "
        "this settlement, fee classes 甲/乙/丙, the policy items from each fund line's explanation, this "
        "settlement's payment per fund, the personal account and cash, the total reimbursed in figures and in "
        "capitals 大写, and the personal burden; 已撤销 when reversed. `text/html` (printable on A4 and A5) by "
        "default; `application/pdf` with `?format=pdf` or `Accept: application/pdf`. An institution gets slips "
        "of its own settlements only (another's is `404`). See docs/his-integration.md, \"Printing the slip\"."
    ),
    response_class=Response,
    responses={
        200: {
            "description": "The slip",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                PDF: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **problem_responses(401, 403, (403, "institution_inactive"), (404, "settlement_not_found"), (422, "validation_error")),
    },
)
async def get_slip(
    settlement_id: uuid.UUID,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    request: Request,
    format: Annotated[
        Literal["html", "pdf"] | None,
        Query(description="`pdf` for a PDF document, `html` for the page; default: from `Accept`, else HTML"),
    ] = None,
    paper: Annotated[
        Literal["A4", "A5"], Query(description="Paper size 纸张 the slip is laid out for (`@page` in HTML)")
    ] = "A4",
    accept: Annotated[str | None, Header(description="`application/pdf` asks for the PDF")] = None,
) -> Response:
    slip = await load_slip(session, settlement_id, principal.role, principal.institution_code, today(request.app.state))
    headers = {"Cache-Control": "no-store"}
    if _wants_pdf(format, accept):
        body = await asyncio.to_thread(render_pdf, slip, paper)
        headers["Content-Disposition"] = f'inline; filename="slip-{settlement_id}.pdf"'
        return Response(body, media_type=PDF, headers=headers)
    page = await asyncio.to_thread(render_html, slip, paper)
    return Response(page, media_type="text/html; charset=utf-8", headers=headers)
