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
            async with held.connection():
                raise Conflict("refused")
        assert await _pid(held) == first
    finally:
        await held.close()


async def test_a_connection_left_in_a_transaction_or_failing_otherwise_goes_back_to_the_pool(app):
    held = HeldConnections(app.state.engine, size=2)
    try:
        await _pid(held)
        assert len(held._idle) == 1
        with pytest.raises(RuntimeError):
            async with held.connection():
                raise RuntimeError("unexpected")
        assert held._idle == [] and held._owned == 0  # given back to the pool, not kept
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
        (idle,) = held._idle
        conn = idle.conn
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


async def test_at_most_size_in_use_and_waiters_served_in_order(app):
    held = HeldConnections(app.state.engine, size=1)
    order: list[str] = []

    async def use(name: str) -> int:
        async with held.connection() as conn:
            order.append(name)
            return await conn.fetchval("SELECT pg_backend_pid()")

    try:
        async with held.connection() as first:
            pid = await first.fetchval("SELECT pg_backend_pid()")
            second = asyncio.create_task(use("second"))
            await asyncio.sleep(0.05)
            third = asyncio.create_task(use("third"))
            await asyncio.sleep(0.05)
            assert not second.done() and not third.done()  # size 1: they wait
        assert await second == pid and await third == pid  # the one connection, handed over
        assert order == ["second", "third"]
    finally:
        await held.close()


async def test_a_dropped_connection_makes_room_for_a_waiter(app):
    held = HeldConnections(app.state.engine, size=1)
    try:
        waiter = None
        with pytest.raises(RuntimeError):
            async with held.connection():
                waiter = asyncio.create_task(_pid(held))
                await asyncio.sleep(0.05)
                assert not waiter.done()
                raise RuntimeError("unexpected")  # this connection goes back to the pool
        assert await waiter > 0  # the waiter opened a new one
    finally:
        await held.close()


async def test_a_cancelled_waiter_gives_up_its_place(app):
    held = HeldConnections(app.state.engine, size=1)
    try:
        async with held.connection():
            waiter = asyncio.create_task(_pid(held))
            await asyncio.sleep(0.05)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        assert await _pid(held) > 0
        assert len(held._idle) == 1
    finally:
        await held.close()


async def test_none_idle_after_close_and_size_zero_uses_the_pool(app):
    held = HeldConnections(app.state.engine, size=1)
    await _pid(held)
    assert len(held._idle) == 1
    await held.close()
    assert held._idle == []
    assert await _pid(held) > 0  # still usable, straight from the pool
    assert held._idle == []
    direct = HeldConnections(app.state.engine, size=0)
    assert await _pid(direct) > 0
    assert direct._idle == []


async def test_old_connections_are_replaced(app):
    held = HeldConnections(app.state.engine, size=1, max_age=0.0)
    try:
        await _pid(held)
        assert held._idle == []  # older than max_age at once: given back
    finally:
        await held.close()
