from __future__ import annotations

import pytest

from tests.chronic.world import load_chronic_world


@pytest.fixture
async def world(db):
    await load_chronic_world(db)
    return db


@pytest.fixture
def inst(world, make_client):
    """``await inst(code)``: an institution client of that institution."""

    async def factory(code: str):
        return await make_client("institution", code)

    return factory


@pytest.fixture
async def ops(world, make_client):
    return await make_client("ops")
