"""HTTP routes: policy simulations 数据测算 (api.md "Policy simulations")."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from app.kit.auth import OpsPrincipal
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute
from app.reference.schemas import POLICY_EXAMPLE
from app.simulations import service
from app.simulations.schemas import (
    SimulationCreated,
    SimulationIn,
    SimulationResult,
    SimulationStatus,
)

router = APIRouter(prefix="/v1", tags=["simulations"], route_class=DecimalJSONRoute)

AUTH = (401, 403)
NOT_FOUND = (404, "simulation_not_found")


@router.post(
    "/simulations",
    status_code=202,
    summary="Start a policy simulation",
    description="Replays the settlements of persons insured in `region` under `insutype` with an encounter date "
    "in the period, under the policies that settled them (baseline) and under `draft`, in separate processes. "
    "`draft` is a full policy document validated exactly as by `PUT /v1/policies` (a bad one is `422 "
    "policy_invalid`); it is never stored as a policy in force. Ops and admin.",
    response_model=SimulationCreated,
    responses=problem_responses(*AUTH, 422, (422, "policy_invalid")),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "region": "441900",
                        "insutype": "390",
                        "date_from": "2026-01-01",
                        "date_to": "2026-12-31",
                        "draft": POLICY_EXAMPLE,
                        "name": "起付线 1000 → 800",
                    }
                }
            }
        }
    },
)
async def create_simulation(
    body: SimulationIn, principal: OpsPrincipal, session: DbSession, request: Request
) -> dict[str, Any]:
    simulation_id = await service.create(session, principal, body, request.app.state.database_url)
    return {"simulation_id": simulation_id, "status": "queued"}


@router.get(
    "/simulations/{simulation_id}",
    summary="A simulation's status and progress",
    description="`status` is queued, running, done or failed (`error` then says why); `progress` is "
    "`replayed` ÷ `total` (settlements), from 0 to 1 with two decimals. Ops and admin.",
    response_model=SimulationStatus,
    responses=problem_responses(*AUTH, NOT_FOUND, 422),
)
async def get_simulation(simulation_id: uuid.UUID, principal: OpsPrincipal, session: DbSession) -> dict[str, Any]:
    return await service.status(session, simulation_id)


@router.get(
    "/simulations/{simulation_id}/result",
    summary="A simulation's result (JSON, or CSV with Accept: text/csv)",
    description="When done: totals by fund (baseline, draft, difference, percent), rows by med_type, aid "
    "category and institution level, personal burden with its deciles, the 100 largest changes in personal "
    "burden and the persons ending at a cap (api.md). `Accept: text/csv` gives the same figures as one "
    "table `section,key,fund,baseline,draft,difference,percent`. `409 simulation_not_done` before. Ops and admin.",
    response_model=SimulationResult,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problem_responses(*AUTH, NOT_FOUND, (409, "simulation_not_done"), 422),
    },
)
async def get_simulation_result(
    simulation_id: uuid.UUID,
    principal: OpsPrincipal,
    session: DbSession,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    result, _meta = await service.result(session, simulation_id)
    if accept is not None and "text/csv" in accept and "application/json" not in accept:
        return Response(
            service.result_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="simulation-{simulation_id}.csv"'},
        )
    return result
