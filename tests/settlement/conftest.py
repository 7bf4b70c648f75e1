from __future__ import annotations

import pytest

from tests.settlement.world import C1, CLOSED, H2, H3, H3_ZS, P1, load_world


@pytest.fixture
async def world(db):
    await load_world(db)
    return db


@pytest.fixture
async def hospital(world, make_client):
    """Dongguan level-3 hospital 三级医院."""
    return await make_client("institution", H3)


@pytest.fixture
async def hospital2(world, make_client):
    return await make_client("institution", H2)


@pytest.fixture
async def community(world, make_client):
    return await make_client("institution", C1)


@pytest.fixture
async def pharmacy(world, make_client):
    return await make_client("institution", P1)


@pytest.fixture
async def zhongshan_hospital(world, make_client):
    return await make_client("institution", H3_ZS)


@pytest.fixture
async def closed_hospital(world, make_client):
    return await make_client("institution", CLOSED)


@pytest.fixture
async def ops(world, make_client):
    return await make_client("ops")
