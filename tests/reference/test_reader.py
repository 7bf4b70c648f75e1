"""The reference cache answers repeat lookups without the database, misses included,
and forgets everything when the reference generation moves (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from app.kit.cache import ReferenceGeneration
from app.kit.db import to_libpq_url
from app.reference.reader import ReferenceReader
from tests.world import H3

pytestmark = pytest.mark.asyncio


class Counting:
    """A real connection that counts the statements it is asked to run."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn, self.queries = conn, 0

    async def fetch(self, *args):
        self.queries += 1
        return await self.conn.fetch(*args)

    async def fetchrow(self, *args):
        self.queries += 1
        return await self.conn.fetchrow(*args)


async def test_cache_hits_misses_and_invalidation(world, database_dsn):
    generation = ReferenceGeneration()
    cache = ReferenceReader(generation)
    raw = await asyncpg.connect(to_libpq_url(database_dsn))
    try:
        conn = Counting(raw)
        day = dt.date(2026, 3, 10)
        for _ in range(3):
            assert (await cache.institution(conn, H3)).level == 3
            assert await cache.institution(conn, "H00000000000") is None
            assert (await cache.policy_in_force(conn, "441900", "390", day)).policy.version == "441900/390/2026-01-01"
            items = await cache.catalog_items(conn, "441900", {"SERVICE_GD", "NOPE"})
            # Guangdong's own entry (cap 90.00) wins over the national one (100.00)
            assert items["SERVICE_GD"].price_cap == 90 and items["NOPE"] is None
        assert conn.queries == 4  # one per lookup kind, the first time only

        generation.bump()  # an admin write, here or (via NOTIFY) in another process
        await cache.institution(conn, H3)
        assert conn.queries == 5

        generation.reliable = False  # listener down: nothing is cached
        await cache.institution(conn, H3)
        await cache.institution(conn, H3)
        assert conn.queries == 7
    finally:
        await raw.close()
