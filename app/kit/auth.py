"""API-key authentication and role checks.

Keys are ``msk_`` + ``secrets.token_urlsafe(32)`` (256 random bits), shown once and
stored as their SHA-256 digest. A request's key is hashed and looked up by digest
(a unique index); the digest found is compared with ``hmac.compare_digest``.
Lookups are cached in-process per reference generation (see app.kit.cache): a
revocation bumps the generation here at once and, through NOTIFY, in every
other process; while the listener is down the cache is bypassed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.kit.cache import GenerationCache, ReferenceGeneration, notify_reference_change
from app.kit.dberrors import read_with_retry
from app.kit.errors import Forbidden, Unauthorized
from app.kit.tables import api_keys, institutions

Role = Literal["institution", "wallet", "ops", "admin"]
ROLES: tuple[str, ...] = ("institution", "wallet", "ops", "admin")
KEY_PREFIX = "msk_"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: UUID
    role: str
    institution_code: str | None = None
    #: False for the key of an institution that is not (or no longer) active.
    institution_active: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


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


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer msk_…`")


#: Where `app.kit.routing.authenticate_first` leaves ``(key, principal)`` for `get_principal`.
PRINCIPAL_SCOPE_KEY = "medsettle.principal"


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``; 401 when missing, unknown or revoked."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized()
    checked = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if checked is not None and checked[0] == credentials.credentials:
        return checked[1]  # looked up by the route before anything else
    return await principal_for_key(request.app.state, credentials.credentials)


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header value, as `HTTPBearer` reads it."""
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


class InstitutionInactive(Forbidden):
    code, title = "institution_inactive", "Institution inactive"

    def __init__(self) -> None:
        super().__init__("The key's institution is not active; its keys are refused on every endpoint.")


async def principal_for_key(state: Any, key: str) -> Principal:
    """The active key's principal (cached per reference generation); 401 when unknown or
    revoked; 403 ``institution_inactive`` for the key of an inactive institution (api.md,
    Conventions: on every endpoint, before any other check). An institution's ``active``
    is reference data: changing it bumps the generation, so the cache follows at once."""
    digest = hash_key(key)
    generation: ReferenceGeneration = state.reference
    at = generation.cache_key  # read before querying (see app.kit.cache)
    cache = getattr(state, "key_cache", None)
    if cache is None:
        cache = state.key_cache = GenerationCache(generation)
    principal = cache.get(digest, at)
    if principal is not None:
        if not principal.institution_active:
            raise InstitutionInactive()
        return principal
    # A short connection of its own, released at once: holding the request's
    # session (or a second pooled connection) for the whole request would let a
    # burst of cold requests exhaust the pool while each waits for another.
    # A lost connection is retried once on a fresh one, then 503 (app.kit.dberrors).
    async def lookup(conn: AsyncConnection) -> Any:
        return (
            await conn.execute(
                select(
                    api_keys.c.key_id,
                    api_keys.c.key_hash,
                    api_keys.c.role,
                    api_keys.c.institution_code,
                    institutions.c.active,
                )
                .select_from(api_keys.outerjoin(institutions, institutions.c.code == api_keys.c.institution_code))
                .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
            )
        ).first()

    row = await read_with_retry(state.engine, lookup)
    if row is None or not hmac.compare_digest(bytes(row.key_hash), digest):
        raise Unauthorized()
    principal = Principal(
        key_id=row.key_id,
        role=row.role,
        institution_code=row.institution_code,
        institution_active=row.institution_code is None or bool(row.active),
    )
    cache.put(digest, principal, at)
    if not principal.institution_active:
        raise InstitutionInactive()
    return principal


def allowed_roles(*roles: str) -> frozenset[str]:
    """The roles a route for ``roles`` admits: admin may do whatever ops may."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")
    return frozenset(roles) | ({"admin"} if "ops" in roles else frozenset())


def check_role(principal: Principal, allowed: frozenset[str]) -> Principal:
    if principal.role not in allowed:
        raise Forbidden(f"This endpoint is not available to the {principal.role} role.")
    return principal


def require_roles(*roles: str):  # type: ignore[no-untyped-def]
    """A dependency allowing only these roles. Admin may do whatever ops may."""
    allowed = allowed_roles(*roles)

    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        return check_role(principal, allowed)

    dependency.__name__ = "require_" + "_or_".join(sorted(allowed))
    return dependency


AnyPrincipal = Annotated[Principal, Depends(get_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]
#: ops or admin
OpsPrincipal = Annotated[Principal, Depends(require_roles("ops"))]
InstitutionPrincipal = Annotated[Principal, Depends(require_roles("institution"))]
WalletPrincipal = Annotated[Principal, Depends(require_roles("wallet"))]
#: institution, ops or admin (reads such as GET /v1/persons/{id}, GET /v1/settlements/{id})
InstitutionOrOpsPrincipal = Annotated[Principal, Depends(require_roles("institution", "ops"))]
