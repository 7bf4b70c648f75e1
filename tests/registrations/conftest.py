from __future__ import annotations

import pytest

from tests.registrations.world import C1_ZS, P1_ZS, load_registration_world
from tests.world import C1, CLOSED, H1, H2, H3, H3_ZS, P1


@pytest.fixture
async def world(db):
    await load_registration_world(db)
    return db


@pytest.fixture
def inst(world, make_client):
    """``await inst(code)``: an institution client of that (existing) institution."""

    async def factory(code: str):
        return await make_client("institution", code)

    return factory


@pytest.fixture
async def h3(inst):
    return await inst(H3)


@pytest.fixture
async def h2(inst):
    return await inst(H2)


@pytest.fixture
async def h1(inst):
    return await inst(H1)


@pytest.fixture
async def c1(inst):
    return await inst(C1)


@pytest.fixture
async def p1(inst):
    return await inst(P1)


@pytest.fixture
async def zs_hospital(inst):
    return await inst(H3_ZS)


@pytest.fixture
async def zs_community(inst):
    return await inst(C1_ZS)


@pytest.fixture
async def zs_pharmacy(inst):
    return await inst(P1_ZS)


@pytest.fixture
async def closed(inst):
    return await inst(CLOSED)


@pytest.fixture
async def ops(world, make_client):
    return await make_client("ops")
