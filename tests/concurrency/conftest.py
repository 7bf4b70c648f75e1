from tests.settlement.conftest import community, hospital, pharmacy, world  # noqa: F401  (shared fixtures)
