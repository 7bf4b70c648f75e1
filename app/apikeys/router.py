"""API keys (admin): created and shown once, revoked at once."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from app.apikeys import service
from app.apikeys.schemas import ApiKeyCreated, ApiKeyIn
from app.kit.auth import AdminPrincipal
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], route_class=DecimalJSONRoute)


@router.post(
    "",
    status_code=201,
    summary="Create an API key",
    description="Creates a key with one role: `institution` (bound to one institution 定点医药机构), "
    "`wallet` (issues e-voucher codes 医保电子凭证), `ops` or `admin`. The key is returned once and "
    "stored only as a hash.",
    response_model=ApiKeyCreated,
    responses=problem_responses(401, 403, 422, (422, "unknown_institution")),
)
async def create_api_key(body: ApiKeyIn, principal: AdminPrincipal, session: DbSession) -> ApiKeyCreated:
    return await service.create_key(session, principal, body)


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    description="Revokes the key at once, in every process of the service. Revoking a revoked key is a no-op.",
    response_class=Response,
    responses=problem_responses(401, 403, (404, "api_key_not_found"), 422),
)
async def revoke_api_key(key_id: UUID, principal: AdminPrincipal, session: DbSession) -> Response:
    await service.revoke_key(session, principal, key_id)
    return Response(status_code=204)
