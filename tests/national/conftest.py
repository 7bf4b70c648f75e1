"""Fixtures for the national interface: the demo world at a fixed time, HIS clients."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest

from app.evouchers import ratelimit
from app.kit.clock import CST
from tests.helpers import make_asgi_client
from tests.national.his import His

#: Every test runs at this moment (China time); messages carry this inf_time.
START = dt.datetime(2026, 6, 15, 10, 0, tzinfo=CST)


class FakeClock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **delta: float) -> dt.datetime:
        self.t += dt.timedelta(**delta)
        return self.t


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


@pytest.fixture(autouse=True)
async def fresh_limiter(app) -> AsyncIterator[None]:
    """No e-voucher failures counted before or after (the limiter lives in PostgreSQL)."""
    await ratelimit.reset()
    yield
    await ratelimit.reset()


@pytest.fixture
async def world(demo_world, clock) -> dict:
    return demo_world


@pytest.fixture
async def his_factory(app, world) -> AsyncIterator:
    clients = []

    def make(institution_code: str) -> His:
        client = make_asgi_client(app, world[f"institution:{institution_code}"])
        clients.append(client)
        return His(client, institution_code)

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
def community(his_factory) -> His:
    """东城社区卫生服务中心 (Dongguan community, level 1): residents' outpatient 11."""
    return his_factory("C44190000001")


@pytest.fixture
def hospital(his_factory) -> His:
    """东莞市人民医院 (level 3)."""
    return his_factory("H44190000001")


@pytest.fixture
def pharmacy(his_factory) -> His:
    """东莞大参林药店."""
    return his_factory("P44190000001")
