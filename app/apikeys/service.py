from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.apikeys import repository as repo
from app.apikeys.exceptions import ApiKeyNotFound, UnknownInstitution
from app.apikeys.schemas import ApiKeyCreated, ApiKeyIn
from app.kit import audit
from app.apikeys.repository import insert_key
from app.kit.auth import Principal
from app.kit.cache import notify_reference_change
from app.reference.repository import get_institution


async def create_key(session: AsyncSession, actor: Principal, body: ApiKeyIn) -> ApiKeyCreated:
    if body.institution_code is not None and await get_institution(session, body.institution_code) is None:
        raise UnknownInstitution(
            "No such institution.", errors=[{"loc": ["body", "institution_code"], "msg": "unknown institution"}]
        )
    key_id, key = await insert_key(session, body.role, institution_code=body.institution_code, label=body.label)
    await audit.record(session, actor.key_id, "api_key.create", f"api_key:{key_id}", {"role": body.role})
    return ApiKeyCreated(key_id=key_id, key=key, role=body.role, institution_code=body.institution_code)


async def revoke_key(session: AsyncSession, actor: Principal, key_id: UUID) -> None:
    revoked = await repo.revoke(session, key_id)
    if revoked is None:
        raise ApiKeyNotFound("No such API key.")
    if revoked:
        # Drops this process's key cache after commit and, through NOTIFY, every other's.
        await notify_reference_change(session)
        await audit.record(session, actor.key_id, "api_key.revoke", f"api_key:{key_id}")
