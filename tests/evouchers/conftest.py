"""Fixtures for e-voucher tests: the settlement world, a movable clock, a clean rate limiter."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest

from app.evouchers import ratelimit
from app.kit.clock import CST
# The institution clients are the settlement tests' (they resolve `world` to the one below).
from tests.world import load_world

#: A second pharmacy (Dongguan), for races and per-institution limits.
P2 = "P44190000002"
START = dt.datetime(2026, 3, 10, 10, 0, tzinfo=CST)


class FakeClock:
    """`app.state.clock`: returns `t`; tests move it instead of sleeping."""

    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **delta: float) -> dt.datetime:
        self.t += dt.timedelta(**delta)
        return self.t


@pytest.fixture(autouse=True)
async def fresh_limiter(app, db) -> AsyncIterator[ratelimit.FailureLimiter]:
    """Every test starts (and leaves) with no failures counted (the attempts are in PostgreSQL)."""
    await ratelimit.reset()
    yield ratelimit.LIMITER
    await ratelimit.reset()


_MISSING = object()


@pytest.fixture
def clock(app) -> Iterator[FakeClock]:
    previous = getattr(app.state, "clock", _MISSING)
    fake = app.state.clock = FakeClock(START)
    try:
        yield fake
    finally:
        if previous is _MISSING:
            del app.state.clock
        else:
            app.state.clock = previous


@pytest.fixture
async def world(db, clock):
    await load_world(db)
    return db


@pytest.fixture
async def wallet(world, make_client):
    return await make_client("wallet")


@pytest.fixture
async def pharmacy2(world, make_client):
    return await make_client("institution", P2)

