from __future__ import annotations

import pytest

from tests.reconciliation.world import hold_rollup_back
from tests.world import load_world


@pytest.fixture
async def world(db, app):
    """The settlement world, with the report rollup held back (tests move the clock). The
    institution clients (hospital, hospital2, community, ops) are the root conftest's."""
    await load_world(db)
    margin = await hold_rollup_back(app, db)
    yield db
    app.state.clock = None
    app.state.report_fold_margin = margin
