from __future__ import annotations

import datetime as dt

import pytest

from tests.settlement.world import C1, H2, H3, load_world


@pytest.fixture
async def world(db, app):
    """The settlement world. These tests move the service's clock into the past, which the
    report fold assumes never happens (app.reports.rollup): the automatic folds keep ten
    years away; tests fold explicitly when they mean to."""
    await load_world(db)
    margin = app.state.report_fold_margin
    app.state.report_fold_margin = dt.timedelta(days=3650)
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
