"""API-key authentication and role checks.

Keys are ``msk_`` + ``secrets.token_urlsafe(32)`` (256 random bits), shown once and
stored as their SHA-256 digest. A request's key is hashed and looked up by digest
(a unique index); the digest found is compared with ``hmac.compare_digest``.
The keys themselves are the apikeys domain's (table, writes, the lookup by digest:
`app.apikeys.repository.KeyStore`, which the app puts at ``state.key_store``); kit
only hashes, checks and caches. Lookups are cached in-process per reference generation (see app.kit.cache): a
revocation bumps the generation here at once and, through NOTIFY, in every
other process; while the listener is down the cache is bypassed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from app.kit.cache import GenerationCache, ReferenceGeneration
from app.kit.errors import Forbidden, Unauthorized
from app.kit.logging import bind_principal

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


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer msk_…`")


#: Where `app.kit.routing.authenticate_first` leaves ``(key, principal)`` for `get_principal`.
PRINCIPAL_SCOPE_KEY = "medsettle.principal"


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``; 401 when missing, unknown or revoked.
    (``credentials`` only declares the security scheme in the OpenAPI document: the header
    is read by `authenticate`, as the settlement fast route reads it.)"""
    authorization = request.headers.get("authorization")
    checked = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if checked is not None and checked[0] == bearer_key(authorization):
        return checked[1]  # looked up by the route before anything else (`authenticate_first`)
    return await authenticate(request.app.state, authorization)


async def authenticate(state: Any, authorization: str | None) -> Principal:
    """The principal of an ``Authorization`` header value: every way in authenticates
    through this (FastAPI dependencies and the settlement fast route alike)."""
    key = bearer_key(authorization)
    if key is None:
        raise Unauthorized()
    return await principal_for_key(state, key)


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
        bind_principal(principal.key_id, principal.role, principal.institution_code)
        if not principal.institution_active:
            raise InstitutionInactive()
        return principal
    # The key store reads on a short connection of its own, retried once when it turns
    # out to be dead, then 503 (app.kit.dberrors).
    row = await state.key_store.find_active(digest)
    if row is None or not hmac.compare_digest(bytes(row.key_hash), digest):
        raise Unauthorized()
    principal = Principal(
        key_id=row.key_id,
        role=row.role,
        institution_code=row.institution_code,
        institution_active=row.institution_code is None or bool(row.institution_active),
    )
    cache.put(digest, principal, at)
    bind_principal(principal.key_id, principal.role, principal.institution_code)
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
