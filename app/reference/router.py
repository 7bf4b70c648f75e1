"""Reference data (admin): regions 统筹区, institutions 定点医药机构, catalog 医保目录, policies 待遇政策."""

from __future__ import annotations

import dataclasses

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response

from app.kit.auth import AdminPrincipal, InstitutionOrOpsPrincipal, OpsPrincipal
from app.kit.clock import today
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute
from app.reference import service
from app.reference.schemas import (
    POLICY_EXAMPLE,
    CatalogBulkIn,
    CatalogBulkOut,
    CatalogItemIn,
    CatalogItemOut,
    InstitutionIn,
    InstitutionOut,
    PolicyOut,
    RegionIn,
    RegionOut,
)

router = APIRouter(prefix="/v1", tags=["reference data"], route_class=DecimalJSONRoute)

RegionPath = Annotated[str, Path(pattern=r"^\d{6}$", description="6-digit region code", examples=["441900"])]
CatalogRegionPath = Annotated[
    str, Path(pattern=r"^\d{6}$", description="catalog region; `000000` is the national catalog", examples=["000000"])
]
InstitutionPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$", examples=["H44190000001"])]
ItemPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._\-]{1,64}$", examples=["XL01XEG001A001010100"])]
InsutypePath = Annotated[
    Literal["310", "390"], Path(description="310 employee 职工基本医疗保险, 390 resident 城乡居民基本医疗保险")
]

AUTH_ERRORS = (401, 403)
PUT_STATUS = {201: {"description": "Created"}}


def _created(response: Response, created: bool) -> None:
    response.status_code = 201 if created else 200


@router.put(
    "/regions/{code}",
    summary="Create or replace a region",
    description="A pooling region 统筹区 (admdvs). A code ending in `0000` is a province. "
    "`201` when created, `200` when replaced.",
    response_model=RegionOut,
    responses={**PUT_STATUS, **problem_responses(*AUTH_ERRORS, 422)},
)
async def put_region(
    code: RegionPath, body: RegionIn, principal: AdminPrincipal, session: DbSession, response: Response
) -> Any:
    row, created = await service.put_region(session, principal, code, body)
    _created(response, created)
    return row._mapping


@router.get(
    "/regions/{code}",
    summary="Get a region",
    description="A pooling region 统筹区.",
    response_model=RegionOut,
    responses=problem_responses(*AUTH_ERRORS, (404, "region_not_found"), 422),
)
async def get_region(code: RegionPath, principal: OpsPrincipal, session: DbSession) -> Any:
    return (await service.get_region(session, code))._mapping


@router.put(
    "/institutions/{code}",
    summary="Create or replace an institution",
    description="A designated institution 定点医药机构: `hospital` (level 1–3), `community` 社区/基层 "
    "(level 1) or `pharmacy` 定点药店 (no level). `201` when created, `200` when replaced.",
    response_model=InstitutionOut,
    responses={**PUT_STATUS, **problem_responses(*AUTH_ERRORS, 422, (422, "unknown_region"))},
)
async def put_institution(
    code: InstitutionPath, body: InstitutionIn, principal: AdminPrincipal, session: DbSession, response: Response
) -> Any:
    row, created = await service.put_institution(session, principal, code, body)
    _created(response, created)
    return row._mapping


@router.get(
    "/institutions/{code}",
    summary="Get an institution",
    description="A designated institution 定点医药机构.",
    response_model=InstitutionOut,
    responses=problem_responses(*AUTH_ERRORS, (404, "institution_not_found"), 422),
)
async def get_institution(code: InstitutionPath, principal: InstitutionOrOpsPrincipal, session: DbSession) -> Any:
    return (await service.get_institution(session, code))._mapping


@router.put(
    "/catalogs/{region}/items/{code}",
    summary="Create or replace a catalog item",
    description="An item of the medical-insurance catalog 医保目录 of a region (`000000`: national): "
    "category `A` 甲类, `B` 乙类 (with 先行自付比例 `self_pay_ratio`), `C` 丙类; "
    "`price_cap` 最高限价 per unit; `restriction` 限定支付范围. `201` when created, `200` when replaced.",
    response_model=CatalogItemOut,
    responses={**PUT_STATUS, **problem_responses(*AUTH_ERRORS, (404, "region_not_found"), 422)},
)
async def put_catalog_item(
    region: CatalogRegionPath,
    code: ItemPath,
    body: CatalogItemIn,
    principal: AdminPrincipal,
    session: DbSession,
    response: Response,
) -> Any:
    row, created = await service.put_catalog_item(session, principal, region, code, body)
    _created(response, created)
    return row._mapping


@router.post(
    "/catalogs/{region}/items:bulk",
    summary="Create or replace many catalog items",
    description="Bulk load of the catalog 医保目录 of a region: all items are written, or none "
    "(one invalid item refuses the whole request).",
    response_model=CatalogBulkOut,
    responses=problem_responses(*AUTH_ERRORS, (404, "region_not_found"), 422),
)
async def bulk_catalog_items(
    region: CatalogRegionPath, body: CatalogBulkIn, principal: AdminPrincipal, session: DbSession
) -> CatalogBulkOut:
    count = await service.bulk_catalog_items(session, principal, region, body)
    return CatalogBulkOut(region=region, count=count)


@router.get(
    "/catalogs/{region}/items/{code}",
    summary="Get a catalog item",
    description="One item of a region's catalog 医保目录 (no fallback to the province or national catalog).",
    response_model=CatalogItemOut,
    responses=problem_responses(*AUTH_ERRORS, (404, "catalog_item_not_found"), 422),
)
async def get_catalog_item(
    region: CatalogRegionPath, code: ItemPath, principal: InstitutionOrOpsPrincipal, session: DbSession
) -> Any:
    return (await service.get_catalog_item(session, region, code))._mapping


@router.put(
    "/policies/{region}/{insutype}/{effective_from}",
    summary="Create or replace a policy version",
    description="The policy document 待遇政策 of policy.md for an insured region 参保地, insutype and "
    "effective date. The document's `region`, `insutype` and `effective_from` may be left out (taken from "
    "the path); when given they must equal the path. Amounts are decimal strings ≥ 0 with at most 2 decimals; "
    "ratios are in [0, 1]; two equally specific basic rules for the same encounter are refused. Replacing "
    "a version bumps its `revision`; a version a settlement has used is immutable (`409 policy_in_use`). "
    "`201` when created, `200` when replaced.",
    response_model=PolicyOut,
    responses={**PUT_STATUS, **problem_responses(*AUTH_ERRORS, (409, "policy_in_use"), 422, (422, "policy_invalid"))},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/PolicyDocument"},
                    "example": POLICY_EXAMPLE,
                }
            },
        }
    },
)
async def put_policy(
    region: RegionPath,
    insutype: InsutypePath,
    effective_from: dt.date,
    principal: AdminPrincipal,
    session: DbSession,
    response: Response,
    document: Annotated[Any, Body()],
) -> Any:
    row, created = await service.put_policy(session, principal, region, insutype, effective_from, document)
    _created(response, created)
    return row._mapping


@router.get(
    "/policies/{region}/{insutype}",
    summary="Get the policy version in force",
    description="The policy 待遇政策 version with the latest `effective_from` on or before `date` "
    "(default: today, China time).",
    response_model=PolicyOut,
    responses=problem_responses(*AUTH_ERRORS, (404, "policy_not_found"), 422),
)
async def get_policy(
    region: RegionPath,
    insutype: InsutypePath,
    principal: InstitutionOrOpsPrincipal,
    session: DbSession,
    date: Annotated[dt.date | None, Query(description="the date the policy must be in force on")] = None,
) -> Any:
    return dataclasses.asdict(await service.policy_in_force(session, region, insutype, date or today()))
