from __future__ import annotations

import pytest

from tests.world import load_world


@pytest.fixture
async def world(db):
    await load_world(db)
    return db
