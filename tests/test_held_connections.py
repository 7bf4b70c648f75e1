"""app.kit.rawdb.HeldConnections: pool connections the settlement path keeps between requests."""

from __future__ import annotations

import asyncio

import pytest

from app.kit.errors import Conflict
from app.kit.rawdb import DatabaseUnavailable, HeldConnections

pytestmark = pytest.mark.asyncio


async def _pid(held: HeldConnections) -> int:
    async with held.connection() as conn:
        return await conn.fetchval("SELECT pg_backend_pid()")


async def test_a_connection_is_held_and_handed_over_again(app):
    held = HeldConnections(app.state.engine, size=2)
    try:
        first = await _pid(held)
        assert await _pid(held) == first
        # A problem raised by the request (a refusal, a conflict) does not cost the connection.
        with pytest.raises(Conflict):
            async with held.connection() as conn:
                raise Conflict("refused")
        assert await _pid(held) == first
    finally:
        await held.close()


async def test_a_connection_left_in_a_transaction_or_failing_otherwise_goes_back_to_the_pool(app):
    held = HeldConnections(app.state.engine, size=2)
    try:
        first = await _pid(held)
        with pytest.raises(RuntimeError):
            async with held.connection():
                raise RuntimeError("unexpected")
        second = await _pid(held)
        assert second != first or await _pid(held) == second  # the first was given back, not kept
        async with held.connection() as conn:
            await conn.execute("BEGIN")  # left open: never handed to another request
        async with held.connection() as conn:
            assert not conn.is_in_transaction()
    finally:
        await held.close()


async def test_a_connection_killed_while_held_is_dropped_and_the_next_one_works(app, db):
    held = HeldConnections(app.state.engine, size=1)
    try:
        victim = await _pid(held)
        (_, conn, _), = held._idle
        assert await db.fetchval("SELECT pg_terminate_backend($1)", victim)
        for _ in range(100):  # the driver notices the server's goodbye
            if conn.is_closed():
                break
            await asyncio.sleep(0.01)
        fresh = await _pid(held)  # not handed the dead one
        assert fresh != victim
        assert await _pid(held) == fresh
    finally:
        await held.close()


async def test_a_connection_killed_in_use_is_invalidated(app, db):
    held = HeldConnections(app.state.engine, size=1)
    try:
        victim = await _pid(held)
        with pytest.raises(DatabaseUnavailable):
            async with held.connection() as conn:
                assert await db.fetchval("SELECT pg_terminate_backend($1)", victim)
                await asyncio.sleep(0.05)
                await conn.fetchval("SELECT 1")
        assert held._idle == []
        assert await _pid(held) != victim
    finally:
        await held.close()


async def test_at_most_size_idle_and_none_after_close(app):
    held = HeldConnections(app.state.engine, size=1)
    async with held.connection() as a, held.connection() as b:
        pids = {await a.fetchval("SELECT pg_backend_pid()"), await b.fetchval("SELECT pg_backend_pid()")}
    assert len(pids) == 2
    assert len(held._idle) == 1  # the second went back to the pool
    await held.close()
    assert held._idle == []
    assert await _pid(held) > 0  # still usable, straight from the pool
    assert held._idle == []


async def test_old_connections_are_replaced(app):
    held = HeldConnections(app.state.engine, size=1, max_age=0.0)
    try:
        await _pid(held)
        assert held._idle == []  # older than max_age at once: given back
    finally:
        await held.close()
