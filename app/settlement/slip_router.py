"""GET /v1/settlements/{settlement_id}/slip — the patient's settlement slip 结算单 (HTML or PDF)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import text

from app.kit.auth import InstitutionOrOpsPrincipal
from app.kit.clock import CST, today
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.persons import repository as persons_repo
from app.reference import repository as reference_repo
from app.settlement import repository as settlement_repo
from app.settlement import slip_repository
from app.settlement.exceptions import SettlementNotFound
from app.settlement.slip import Slip, build_slip, render_html, render_pdf

router = APIRouter(prefix="/v1/settlements", tags=["settlements"])

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


async def load_slip(
    session: DbSession, settlement_id: uuid.UUID, role: str, institution_code: str | None, print_date: dt.date
) -> Slip:
    """Everything the slip shows, read in one REPEATABLE READ snapshot (the balance after
    the settlement is derived from the balance now and the moves since: both must be
    read at the same instant)."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    await session.execute(text("SELECT 1"))  # takes the snapshot every later read shares
    conn = (await (await session.connection()).get_raw_connection()).driver_connection
    record = await settlement_repo.get_settlement(conn, settlement_id)
    if record is None or (role == "institution" and record["institution_code"] != institution_code):
        raise SettlementNotFound()
    settlement = json.loads(record["response"])
    settlement["status"] = record["status"]
    settlement["reversed_at"] = record["reversed_at"].astimezone(CST).isoformat() if record["reversed_at"] else None
    person = await persons_repo.get_person(session, settlement["person_id"])
    institution = await reference_repo.get_institution(session, record["institution_code"])
    if person is None or institution is None:  # both are never deleted; a slip without them is no slip
        raise SettlementNotFound()
    settled_at = dt.datetime.fromisoformat(settlement["settled_at"])
    ytd = await slip_repository.year_to_date(
        conn, settlement["person_id"], settlement["accumulation_year"], settled_at, settlement_id
    )
    balance_after: Decimal | None = None
    # An admin write of the person (PUT /v1/persons) may set the balance to anything; after
    # one, the balance at the time of this settlement cannot be derived: say so, don't guess.
    if person.updated_at <= settled_at:
        balance_after = person.account_balance - await slip_repository.account_moves_since(
            conn, settlement["person_id"], settled_at, settlement_id
        )
    region_names = {}
    for code in {institution.region, person.insured_region, settlement["policy_version"].split("/")[0]}:
        row = await reference_repo.get_region(session, code)
        region_names[code] = row.name if row is not None else code
    return build_slip(
        settlement,
        institution=institution._mapping,
        institution_region=region_names[institution.region],
        policy_region=region_names[settlement["policy_version"].split("/")[0]],
        person=person._mapping,
        insured_region=region_names[person.insured_region],
        year_to_date=ytd,
        balance_after=balance_after,
        print_date=print_date,
    )


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
