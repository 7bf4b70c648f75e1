"""HTTP routes: special-disease registrations 门诊特定病种认定 and sites 选点,
cross-region filings 异地就医备案, referrals 转诊转院 (api.md "Persons and registrations")."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.kit.auth import InstitutionOrOpsPrincipal, InstitutionPrincipal, OpsPrincipal
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute
from app.kit.types import NO_CONTROL_CHARACTERS
from app.persons.schemas import CertnoQuery
from app.persons.service import read_person
from app.registrations import service
from app.registrations.schemas import (
    FilingIn,
    FilingList,
    FilingOut,
    ReferralIn,
    ReferralOut,
    RegistrationIn,
    RegistrationList,
    RegistrationOut,
    SitesChangeIn,
)

router = APIRouter(prefix="/v1", tags=["registrations"], route_class=DecimalJSONRoute)

PersonPath = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS, examples=["P442000000006"])]
OnDate = Annotated[
    dt.date | None, Query(alias="date", description="only what is active on this date (YYYY-MM-DD)")
]
Limit = Annotated[int, Query(ge=1, le=500, description="page size (≤ 500)")]
CursorQ = Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL_CHARACTERS, description="`next_cursor` of the previous page")]

AUTH = (401, 403)
SITE_REFUSALS = (
    (422, "validation_error"),
    (422, "not_insured"),
    (422, "no_policy"),
    (422, "disease_not_covered"),
    (422, "site_not_allowed"),
    (422, "site_unknown"),
    (422, "too_many_sites"),
    (422, "community_site_required"),
    (422, "all_sites_not_allowed"),
)


def _registration(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["sites"] = list(data["sites"] or [])
    return data


# ---------------------------------------------------------------- special-disease registrations


@router.post(
    "/persons/{person_id}/special-disease-registrations",
    status_code=201,
    summary="Certify a special disease 门诊特定病种认定",
    description=(
        "门诊特定病种认定与选点: the calling institution (an active hospital or community institution) "
        "certifies that the person has a special disease of the person's policy in force on `valid_from`, "
        "and records the chosen sites 选点 where the person may settle `14` encounters for it. "
        "The policy's site rule `special_disease_sites` is enforced now: `max_sites` (`too_many_sites`), "
        "`require_community` (`community_site_required`), and `\"all\"` only for persons with supplementary "
        "insurance 补充医疗保险 where `all_sites_if_supplementary` (`all_sites_not_allowed`). Sites must be "
        "active designated institutions (`site_unknown`). A registration of the same disease (any version) "
        "applying on a day of these dates is `registration_overlaps`. The disease's own rules (policy.md, last "
        "section) come first, in this order: `aid_categories` (`disease_not_covered` for a person of another or no "
        "aid category), `certified_by` (`422 certifier_not_allowed` when it does not admit the caller), `treated_by` "
        "(`site_not_allowed` when a named site does not qualify; `\"all\"` opens only the qualifying medical "
        "institutions). A pharmacy is never a certifier (`403 certifier_not_allowed`). A person with both 310 and 390 is covered when "
        "either policy lists the disease; the first such policy in the order 310, 390 gives the site rule."
    ),
    response_model=RegistrationOut,
    responses=problem_responses(
        *AUTH,
        (403, "certifier_not_allowed"),
        (404, "person_not_found"),
        (422, "institution_inactive"),
        (422, "certifier_not_allowed"),
        *SITE_REFUSALS,
        (422, "registration_overlaps"),
    ),
)
async def create_registration(
    person_id: PersonPath, body: RegistrationIn, principal: InstitutionPrincipal, session: DbSession
) -> Any:
    return _registration(await service.create_registration(session, principal, person_id, body))


@router.post(
    "/persons/{person_id}/special-disease-registrations/{registration_id}/sites",
    status_code=201,
    summary="Change the chosen sites 变更选点",
    description=(
        "变更选点: makes a new version of the registration with these sites, valid from `effective_from` "
        "to the registration's `valid_to`; the current version ends the day before (`valid_to` = "
        "`effective_from` − 1 day, `superseded_by` = the new version, `ended_at` = now). Encounters dated "
        "before `effective_from` keep the old sites. The policy's site rule in force on `effective_from` "
        "applies as when registering. Only the certifying institution 认定机构 (or ops/admin) may do this. "
        "Returns the new version."
    ),
    response_model=RegistrationOut,
    responses=problem_responses(
        *AUTH,
        (403, "not_certifier"),
        (404, "person_not_found"),
        (404, "registration_not_found"),
        (409, "registration_superseded"),
        *SITE_REFUSALS,
    ),
)
async def change_sites(
    person_id: PersonPath,
    registration_id: uuid.UUID,
    body: SitesChangeIn,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
) -> Any:
    return _registration(await service.change_sites(session, principal, person_id, registration_id, body))


@router.get(
    "/persons/{person_id}/special-disease-registrations",
    summary="List special-disease registrations 门诊特定病种认定",
    description=(
        "The person's special-disease registrations 门诊特定病种认定, every version (superseded ones carry "
        "`superseded_by` and `ended_at`), oldest first. With `date`, only those whose validity covers it — "
        "exactly what a settlement on that date uses. Institutions only with `?certno=` matching the person "
        "(else `403 credential_required`); audit-logged."
    ),
    response_model=RegistrationList,
    responses=problem_responses(*AUTH, (403, "credential_required"), (404, "person_not_found"), 422),
)
async def list_registrations(
    person_id: PersonPath,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    on: OnDate = None,
    limit: Limit = 100,
    cursor: CursorQ = None,
    certno: CertnoQuery = None,
) -> Any:
    await read_person(session, principal, person_id, certno, "special_disease_registrations")
    rows, next_cursor = await service.list_registrations(session, person_id, on=on, cursor=cursor, limit=limit)
    return {"items": [_registration(r) for r in rows], "next_cursor": next_cursor}


# ---------------------------------------------------------------- cross-region filings


@router.post(
    "/persons/{person_id}/cross-region-filings",
    status_code=201,
    summary="File cross-region treatment 异地就医备案",
    description=(
        "异地就医备案 (ops or admin): while it is valid, the person counts as *filed* for treatment in "
        "`region`; a province code `XX0000` covers every city of that province. `kind`: `resident` "
        "异地长期居住, `temporary` 临时外出就医, `referral` 转诊转院. Several filings may coexist."
    ),
    response_model=FilingOut,
    responses=problem_responses(*AUTH, (404, "person_not_found"), 422),
)
async def create_filing(person_id: PersonPath, body: FilingIn, principal: OpsPrincipal, session: DbSession) -> Any:
    return (await service.create_filing(session, principal, person_id, body))._mapping


@router.get(
    "/persons/{person_id}/cross-region-filings",
    summary="List cross-region filings 异地就医备案",
    description="The person's cross-region filings 异地就医备案, oldest first; with `date`, only those valid on it. "
    "Institutions only with `?certno=` matching the person (else `403 credential_required`); audit-logged.",
    response_model=FilingList,
    responses=problem_responses(*AUTH, (403, "credential_required"), (404, "person_not_found"), 422),
)
async def list_filings(
    person_id: PersonPath,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    on: OnDate = None,
    limit: Limit = 100,
    cursor: CursorQ = None,
    certno: CertnoQuery = None,
) -> Any:
    await read_person(session, principal, person_id, certno, "cross_region_filings")
    rows, next_cursor = await service.list_filings(session, person_id, on=on, cursor=cursor, limit=limit)
    return {"items": [r._mapping for r in rows], "next_cursor": next_cursor}


# ---------------------------------------------------------------- referrals


@router.post(
    "/referrals",
    status_code=201,
    summary="Refer a patient 转诊转院备案",
    description=(
        "转诊转院备案 (national 2501) by the referring institution (the calling key's). `direction` comes from "
        "the levels (community = 1): receiving level lower → `downward` 下转 (no deductible, the policy's "
        "`downward_referral_bonus`), higher → `upward` 上转 (the deductible paid in `origin_settlement_id` "
        "counts, 起付线连续计算), equal → `same`. It applies to one inpatient (`21`) encounter at "
        "`to_institution` within its validity, is consumed by that settlement and freed by its reversal. "
        "`referral_invalid` when `to_institution` is unknown, inactive, a pharmacy or the caller itself, or "
        "when `origin_settlement_id` is not a standing settlement of the caller for this person."
    ),
    response_model=ReferralOut,
    responses=problem_responses(
        *AUTH,
        (404, "person_not_found"),
        (422, "validation_error"),
        (422, "institution_inactive"),
        (422, "referral_invalid"),
    ),
)
async def create_referral(body: ReferralIn, principal: InstitutionPrincipal, session: DbSession) -> Any:
    return (await service.create_referral(session, principal, body))._mapping


@router.get(
    "/referrals/{referral_id}",
    summary="Get a referral 转诊转院备案",
    description=(
        "A referral 转诊转院备案, for the referring and the receiving institution and ops; `404` for any other "
        "institution. `consumed_by` names the settlement that used it while that settlement stands."
    ),
    response_model=ReferralOut,
    responses=problem_responses(*AUTH, (404, "referral_not_found"), 422),
)
async def get_referral(referral_id: uuid.UUID, principal: InstitutionOrOpsPrincipal, session: DbSession) -> Any:
    return (await service.get_referral(session, principal, referral_id))._mapping
