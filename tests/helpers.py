"""Reusable test helpers (imported by tests/conftest.py and by tests)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from app.kit.auth import generate_key, hash_key
from app.kit.db import to_async_url, to_libpq_url, with_database
from app.kit.embedded_pg import EmbeddedPostgres, start_embedded

TEST_DATABASE_ENV = "MEDSETTLE_TEST_DATABASE_URL"


@dataclass
class PgServer:
    """The PostgreSQL server the tests use: the machine's (MEDSETTLE_TEST_DATABASE_URL) or embedded."""

    admin_url: str  # libpq URL of a maintenance database on that server
    embedded: EmbeddedPostgres | None = None
    created: list[str] = field(default_factory=list)

    @classmethod
    def start(cls) -> PgServer:
        url = os.environ.get(TEST_DATABASE_ENV)
        if url:
            return cls(admin_url=to_libpq_url(url))
        # A short path: the unix socket lives in the data dir (limit ~100 bytes).
        root = tempfile.mkdtemp(prefix="mst", dir="/tmp" if os.path.isdir("/tmp") else None)
        embedded = start_embedded(root, delete_on_stop=True)
        return cls(admin_url=to_libpq_url(embedded.url), embedded=embedded)

    async def create_database(self, prefix: str = "medsettle_test_") -> str:
        """A new empty database; returns its libpq URL."""
        name = prefix + secrets.token_hex(6)
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        return with_database(self.admin_url, name)

    async def drop_database(self, url: str) -> None:
        name = url.split("?")[0].rsplit("/", 1)[1]
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        if name in self.created:
            self.created.remove(name)

    async def stop(self) -> None:
        for name in list(self.created):
            await self.drop_database(with_database(self.admin_url, name))
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            shutil.rmtree(self.embedded.data_dir, ignore_errors=True)


class TestDB:
    """Raw SQL access to the test database (asyncpg), for arranging and asserting.

    Every ``execute`` bumps the app's reference generation, so in-process caches
    never serve data a test changed behind the API's back.
    """

    __test__ = False  # not a test class

    def __init__(self, pool: asyncpg.Pool, app: Any, tables: list[str]) -> None:
        self.pool = pool
        self.app = app
        self.tables = tables

    async def truncate(self) -> None:
        await self.pool.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in self.tables) + " RESTART IDENTITY CASCADE")
        self.app.state.reference.bump()

    async def execute(self, sql: str, *args: Any) -> str:
        result = await self.pool.execute(sql, *args)
        self.app.state.reference.bump()
        return result

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.pool.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.pool.fetchval(sql, *args)

    async def count(self, table: str, where: str = "TRUE", *args: Any) -> int:
        return await self.pool.fetchval(f'SELECT count(*) FROM "{table}" WHERE {where}', *args)

    async def counts(self) -> dict[str, int]:
        """Row count of every table (e.g. to prove that nothing was written)."""
        return {t: await self.count(t) for t in self.tables}


INSTITUTION_DEFAULTS = {"H": ("hospital", 3), "C": ("community", 1), "P": ("pharmacy", None)}


async def ensure_institution(
    db: TestDB, code: str, *, region: str | None = None, kind: str | None = None, level: int | None = -1
) -> None:
    """Create the institution (and its region) unless it exists.

    Defaults from the code: ``H44190000001`` → hospital level 3 in 441900,
    ``C…`` community level 1, ``P…`` pharmacy.
    """
    guess_kind, guess_level = INSTITUTION_DEFAULTS.get(code[:1], ("hospital", 3))
    kind = kind or guess_kind
    level = guess_level if level == -1 else level
    if region is None:
        region = code[1:7] if len(code) >= 7 and code[1:7].isdigit() else "441900"
    await db.execute(
        "INSERT INTO regions (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", region, f"region {region}"
    )
    await db.execute(
        "INSERT INTO institutions (code, name, kind, level, region, active) VALUES ($1, $2, $3, $4, $5, true)"
        " ON CONFLICT DO NOTHING",
        code,
        f"institution {code}",
        kind,
        level,
        region,
    )


async def create_key(
    db: TestDB, role: str, institution_code: str | None = None, *, label: str = "test"
) -> tuple[UUID, str]:
    """Insert an API key directly; returns (key_id, key). Institution keys get their institution."""
    if role == "institution":
        institution_code = institution_code or "H44190000001"
        await ensure_institution(db, institution_code)
    key = generate_key()
    key_id = await db.fetchval(
        "INSERT INTO api_keys (key_id, key_hash, role, institution_code, label)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4) RETURNING key_id",
        hash_key(key),
        role,
        institution_code if role == "institution" else None,
        label,
    )
    return key_id, key


class KeyedClient(httpx.AsyncClient):
    """An httpx client that sends one API key; knows its key, key id, role and institution."""

    key: str
    key_id: UUID
    role: str
    institution_code: str | None


def make_asgi_client(app: Any, key: str | None = None, **kw: Any) -> KeyedClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kw.pop("headers", None) or {})
    return KeyedClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://test",
        headers=headers,
        **kw,
    )


def async_url(url: str) -> str:
    return to_async_url(url)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is a problem+json with this status and code; returns the body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["title"] and body["type"].endswith(code)
    return body
