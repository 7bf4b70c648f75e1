from __future__ import annotations

from uuid import UUID

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.apikeys.tables import api_keys
from app.kit.auth import generate_key, hash_key
from app.kit.cache import notify_reference_change
from app.kit.dberrors import read_with_retry
from app.reference.repository import institution_active


class KeyStore:
    """The lookup `app.kit.auth` authenticates with (``app.state.key_store``)."""

    def __init__(self, state: Any) -> None:
        # The app's state, not its engine: the engine is read at each lookup (tests swap it).
        self.state = state

    async def find_active(self, digest: bytes) -> Any:
        """The unrevoked key with this digest: key_id, key_hash, role, institution_code and
        institution_active (None for a key of no institution)."""

        # A short connection of its own, released at once: holding the request's
        # session (or a second pooled connection) for the whole request would let a
        # burst of cold requests exhaust the pool while each waits for another.
        async def lookup(conn: AsyncConnection) -> Any:
            key = (
                await conn.execute(
                    select(api_keys.c.key_id, api_keys.c.key_hash, api_keys.c.role, api_keys.c.institution_code).where(
                        api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
            if key is None:
                return None
            active = None
            if key.institution_code is not None:
                active = await institution_active(conn, key.institution_code)
            return FoundKey(key.key_id, bytes(key.key_hash), key.role, key.institution_code, active)

        return await read_with_retry(self.state.engine, lookup)


@dataclass(frozen=True, slots=True)
class FoundKey:
    key_id: UUID
    key_hash: bytes
    role: str
    institution_code: str | None
    institution_active: bool | None




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


async def insert_key(
    session: AsyncSession,
    role: str,
    *,
    institution_code: str | None = None,
    label: str = "",
    key: str | None = None,
) -> tuple[UUID, str]:
    """Create a key (random unless given); returns (key_id, key text). Caller's transaction."""
    key = key or generate_key()
    key_id = uuid4()
    await session.execute(
        api_keys.insert().values(
            key_id=key_id, key_hash=hash_key(key), role=role, institution_code=institution_code, label=label
        )
    )
    await notify_reference_change(session)
    return key_id, key


async def ensure_admin_key(session: AsyncSession, key: str, label: str = "bootstrap") -> UUID:
    """Make sure an active admin key with exactly this value exists (MEDSETTLE_BOOTSTRAP_ADMIN_KEY)."""
    stmt = (
        pg_insert(api_keys)
        .values(key_id=uuid4(), key_hash=hash_key(key), role="admin", institution_code=None, label=label)
        .on_conflict_do_update(
            index_elements=[api_keys.c.key_hash],
            set_={"role": "admin", "institution_code": None, "revoked_at": None},
        )
        .returning(api_keys.c.key_id)
    )
    key_id = (await session.execute(stmt)).scalar_one()
    await notify_reference_change(session)
    return key_id
