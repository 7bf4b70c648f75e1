"""Persons 参保人: admin writes; institutions and ops read (人员信息获取, 累计信息)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.kit.auth import AdminPrincipal, InstitutionOrOpsPrincipal
from app.kit.clock import now, today
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute
from app.persons import service
from app.persons.schemas import AccumulatorsOut, CertnoQuery, PersonIn, PersonLookupIn, PersonRecord, PersonView

router = APIRouter(prefix="/v1/persons", tags=["persons"], route_class=DecimalJSONRoute)

PersonPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="psn_no", examples=["P441900000001"])]


@router.put(
    "/{person_id}",
    summary="Create or replace an insured person",
    description="An insured person 参保人 with the whole set of enrollments 参保 (replaced as a set), "
    "retirement 退休, supplementary insurance 补充医疗保险, aid category 医疗救助对象类别 and personal "
    "account balance 个人账户余额. The certno 身份证号 check digit (ISO 7064 MOD 11-2) is verified. "
    "`201` when created, `200` when replaced.",
    response_model=PersonRecord,
    responses={
        201: {"description": "Created"},
        **problem_responses(401, 403, 422, (422, "invalid_certno"), (422, "unknown_region")),
    },
)
async def put_person(
    person_id: PersonPath, body: PersonIn, principal: AdminPrincipal, session: DbSession, response: Response
) -> PersonRecord:
    record, created = await service.put_person(session, principal, person_id, body)
    response.status_code = 201 if created else 200
    return record


@router.post(
    "/lookup",
    summary="Look a person up by credential (人员信息获取, 1101)",
    description="人员信息获取 with the credential the patient presents: `{\"certno\"}` (身份证号) or "
    "`{\"e_voucher_code\"}` (医保电子凭证; looked up, **not** consumed — it still settles once). The person "
    "as of today with the enrollments, registrations and filings active, **including the account balance** "
    "(the patient presented the credential, as at the national platform); institution keys see the certno "
    "masked. Unknown → `404 person_not_found`; a bad e-voucher code → `422 e_voucher_*`, and too many of "
    "them → `429 too_many_attempts`. Every lookup by an institution is audit-logged.",
    response_model=PersonView,
    responses=problem_responses(
        401, 403, (403, "institution_inactive"), (404, "person_not_found"), 422,
        (422, "e_voucher_invalid"), (422, "e_voucher_expired"), (422, "e_voucher_used"), (429, "too_many_attempts"),
    ),
)
async def lookup_person(
    body: PersonLookupIn, principal: InstitutionOrOpsPrincipal, session: DbSession, request: Request
) -> PersonView:
    state = request.app.state
    return await service.lookup_person(session, principal, body, today(state), now(state))


@router.get(
    "/{person_id}",
    summary="Get a person (人员信息获取)",
    description="The person with the enrollments, special-disease registrations 门诊特定病种认定 and "
    "cross-region filings 异地就医备案 active on `date` (default today). Ops and admin read any person. An "
    "institution only with `?certno=` matching the person (the credential the patient presents), else "
    "`403 credential_required` — never by `person_id` alone; it sees the certno masked and no account "
    "balance, and every such read is audit-logged.",
    response_model=PersonView,
    responses=problem_responses(401, 403, (403, "credential_required"), (404, "person_not_found"), 422),
)
async def get_person(
    person_id: PersonPath,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    request: Request,
    date: Annotated[dt.date | None, Query(description="as-of date (default today, China time)")] = None,
    certno: CertnoQuery = None,
) -> PersonView:
    return await service.view_person(session, principal, person_id, date or today(request.app.state), certno)


@router.get(
    "/{person_id}/accumulators",
    summary="Get a person's accumulators for a year (累计信息)",
    description="The year's accumulators (settlement.md §10), like the national 5206: basic fund paid, "
    "annual deductibles 起付线 and limits by group, special-disease amounts, critical-illness 大病, "
    "medical aid 医疗救助 and secondary aid 二次救助 bases and payments, and the account balance. "
    "Groups and diseases that have not moved are left out of their maps. Institutions only with "
    "`?certno=` matching the person (else `403 credential_required`); audit-logged.",
    response_model=AccumulatorsOut,
    responses=problem_responses(401, 403, (403, "credential_required"), (404, "person_not_found"), 422),
)
async def get_accumulators(
    person_id: PersonPath,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    request: Request,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="accumulation year (default this year)")] = None,
    certno: CertnoQuery = None,
) -> AccumulatorsOut:
    return await service.accumulators(session, principal, person_id, year or today(request.app.state).year, certno)
