from __future__ import annotations

import pytest

from tests.settlement.world import C1, H2, H3, load_world


@pytest.fixture
async def world(db, app):
    await load_world(db)
    yield db
    app.state.clock = None


@pytest.fixture
async def hospital(world, make_client):
    return await make_client("institution", H3)


@pytest.fixture
async def hospital2(world, make_client):
    return await make_client("institution", H2)


@pytest.fixture
async def community(world, make_client):
    return await make_client("institution", C1)


@pytest.fixture
async def ops(world, make_client):
    return await make_client("ops")
