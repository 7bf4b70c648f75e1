"""Fixtures for every test that needs PostgreSQL or the app.

Database: ``MEDSETTLE_TEST_DATABASE_URL`` set → a fresh ``medsettle_test_<random>``
database on that server (dropped at the end); unset → an embedded PostgreSQL in a
temporary directory. The schema always comes from ``alembic upgrade head``.

Fixtures (all async; the event loop is session-scoped):

* ``pg_server`` (session) – :class:`tests.helpers.PgServer`; ``await pg_server.create_database()``
* ``database_url`` (session) – SQLAlchemy URL ``postgresql+asyncpg://…`` of the migrated test database
* ``database_dsn`` (session) – the same as a libpq URL, for ``asyncpg.connect``
* ``app`` (session) – ``create_app(test settings)`` with its lifespan entered
* ``db`` (function) – truncates every table, then gives a :class:`tests.helpers.TestDB`
* ``client`` (function) – unauthenticated ``httpx.AsyncClient`` on the app (uses ``db``)
* ``make_client`` (function) – ``await make_client(role, institution_code=None, *, label="test")``
  → :class:`tests.helpers.KeyedClient` with a fresh key of that role
* ``admin_client``, ``ops_client``, ``wallet_client``, ``institution_client`` (H44190000001)
* ``db_session`` (function) – an ``AsyncSession`` in a transaction, rolled back at the end
* ``demo_world`` (function) – loads the demo world; returns its dict of demo keys
* ``world`` (function) – the settlement test world of `tests.world` (regions, institutions,
  catalog, policies) on a clean database; domains override it where they need more
* ``hospital``, ``hospital2``, ``community``, ``pharmacy``, ``zhongshan_hospital``,
  ``closed_hospital``, ``ops`` – clients of that world's institutions (and an ops key)
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from app.kit.db import to_async_url, to_libpq_url
from app.kit.migrate import upgrade_head_async
from app.kit.settings import Settings
from app.main import create_app
from tests.helpers import KeyedClient, PgServer, TestDB, create_key, make_asgi_client
from tests.world import C1, CLOSED, H2, H3, H3_ZS, P1, load_world

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@pytest.fixture(scope="session")
async def pg_server() -> AsyncIterator[PgServer]:
    server = PgServer.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
async def database_dsn(pg_server: PgServer) -> AsyncIterator[str]:
    url = await pg_server.create_database()
    await upgrade_head_async(url)
    yield url


@pytest.fixture(scope="session")
def database_url(database_dsn: str) -> str:
    return to_async_url(database_dsn)


@pytest.fixture(scope="session")
def test_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        _env_file=None,
        env="dev",
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        bootstrap_admin_key=None,
        log_level="WARNING",
        db_pool_size=5,
        db_max_overflow=5,
        # No background fold of the report rollup: it would write between a test's reads
        # (tests/reports covers the fold and its periodic step).
        report_fold_interval_seconds=0,
    )


@pytest.fixture(scope="session")
async def app(test_settings: Settings) -> AsyncIterator:
    application = create_app(test_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def _pg_pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(to_libpq_url(database_dsn), min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
async def _tables(_pg_pool: asyncpg.Pool) -> list[str]:
    rows = await _pg_pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1"
    )
    return [r["tablename"] for r in rows]


@pytest.fixture
async def db(app, _pg_pool: asyncpg.Pool, _tables: list[str]) -> TestDB:
    test_db = TestDB(_pg_pool, app, _tables)
    await test_db.truncate()
    return test_db


@pytest.fixture
async def client(app, db: TestDB) -> AsyncIterator[KeyedClient]:
    async with make_asgi_client(app) as c:
        yield c


MakeClient = Callable[..., Awaitable[KeyedClient]]


@pytest.fixture
async def make_client(app, db: TestDB) -> AsyncIterator[MakeClient]:
    clients: list[KeyedClient] = []

    async def factory(role: str, institution_code: str | None = None, *, label: str = "test") -> KeyedClient:
        key_id, key = await create_key(db, role, institution_code, label=label)
        c = make_asgi_client(app, key)
        c.key, c.key_id, c.role = key, key_id, role
        c.institution_code = (institution_code or "H44190000001") if role == "institution" else None
        clients.append(c)
        return c

    yield factory
    for c in clients:
        await c.aclose()


@pytest.fixture
async def admin_client(make_client: MakeClient) -> KeyedClient:
    return await make_client("admin")


@pytest.fixture
async def ops_client(make_client: MakeClient) -> KeyedClient:
    return await make_client("ops")


@pytest.fixture
async def wallet_client(make_client: MakeClient) -> KeyedClient:
    return await make_client("wallet")


@pytest.fixture
async def institution_client(make_client: MakeClient) -> KeyedClient:
    return await make_client("institution", "H44190000001")


@pytest.fixture
async def db_session(app, db: TestDB) -> AsyncIterator:
    async with app.state.sessionmaker() as session:
        await session.begin()
        try:
            yield session
        finally:
            await session.rollback()


@pytest.fixture
async def demo_world(app, db: TestDB) -> dict:
    from app.demo.world import load_demo

    async with app.state.engine.begin() as conn:
        keys = await load_demo(conn)
    app.state.reference.bump()
    return keys


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
