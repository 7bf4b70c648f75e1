from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.tables import api_keys


async def revoke(session: AsyncSession, key_id: UUID) -> bool | None:
    """Revoke the key. True: revoked now; False: already revoked; None: no such key."""
    stmt = (
        update(api_keys)
        .where(api_keys.c.key_id == key_id)
        .values(revoked_at=func.coalesce(api_keys.c.revoked_at, func.now()))
        .returning(api_keys.c.revoked_at, func.now().label("now"))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return row.revoked_at == row.now
