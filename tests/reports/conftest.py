from __future__ import annotations

import pytest

from tests.reconciliation.world import hold_rollup_back
from tests.world import C1, H2, H3, load_world


@pytest.fixture
async def world(db, app):
    """The settlement world, with the report rollup held back (tests move the clock)."""
    await load_world(db)
    margin = await hold_rollup_back(app, db)
    yield db
    app.state.clock = None
    app.state.report_fold_margin = margin


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
