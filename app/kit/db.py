"""Database engine, sessions and the one-transaction-per-request rule.

Every request that touches the database gets ONE ``AsyncSession`` inside ONE
transaction (``DbSession``). Repositories only ``flush()``; the transaction is
committed in a single place, :func:`get_db_session`, right after the endpoint
function returns and *before* the response is sent (``Depends(scope="function")``,
FastAPI ≥ 0.121). If the commit fails the exception propagates and the client gets
a problem+json error, never a 2xx. Any exception raised by the endpoint rolls the
transaction back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.kit.settings import Settings


def to_async_url(url: str) -> str:
    """Any PostgreSQL URL → the SQLAlchemy asyncpg form ``postgresql+asyncpg://…``."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg"):
        scheme = "postgresql+asyncpg"
    else:
        raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme!r})")
    netloc = parts.netloc
    if netloc.endswith(":@") or ":@" in netloc:  # "postgres:@" (empty password) → "postgres@"
        netloc = netloc.replace(":@", "@", 1)
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def to_libpq_url(url: str) -> str:
    """Any PostgreSQL URL → ``postgresql://…`` as asyncpg.connect() and libpq accept it."""
    parts = urlsplit(to_async_url(url))
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


#: Connections older than this are replaced (pool_recycle; also app.kit.rawdb.HeldConnections).
POOL_RECYCLE_SECONDS = 1800


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout: a connection the driver already knows is closed (its server went
    away while it sat idle) is never handed out; the pool replaces it. A flag read, no
    round trip (unlike pool_pre_ping)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise sa_exc.DisconnectionError("connection closed while idle in the pool")


def create_engine(url: str, settings: Settings | None = None) -> AsyncEngine:
    settings = settings or Settings()
    engine = create_async_engine(
        to_async_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No pre-ping: on asyncpg it costs a BEGIN, a query and a ROLLBACK on every
        # checkout. A dead connection is instead dropped when it fails (SQLAlchemy
        # invalidates on disconnect errors; the raw hot path invalidates itself).
        pool_pre_ping=False,
        pool_recycle=POOL_RECYCLE_SECONDS,
        # Never put bound values (names, certno, key digests) into exception texts and
        # so into logs (docs/operations.md, "Logs").
        hide_parameters=True,
        connect_args={
            "server_settings": {
                # Bounded waits: a settlement queued behind the same person (or an
                # identical retry) gives up after this instead of holding a connection.
                "lock_timeout": str(settings.db_lock_timeout_ms),
                "application_name": "medsettle",
            }
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


_AFTER_COMMIT: ContextVar[list[Callable[[], None]] | None] = ContextVar("medsettle_after_commit", default=None)


@contextmanager
def after_commit_scope() -> Iterator[list[Callable[[], None]]]:
    """The scope of one request's transaction(s): `after_commit` callbacks registered
    inside it are collected in the list yielded, which the code that opened the
    transaction runs (`run_after_commit`) once it has committed, and drops on failure.

    This is the one after-commit mechanism of every path: the session route
    (`get_db_session`), the raw-connection routes (`app.kit.rawdb.get_raw_connection`)
    and the settlement pipeline (`app.settlement.pipeline`)."""
    callbacks: list[Callable[[], None]] = []
    token = _AFTER_COMMIT.set(callbacks)
    try:
        yield callbacks
    finally:
        _AFTER_COMMIT.reset(token)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current transaction has committed (e.g. bump the
    reference generation). Outside any scope — start-up, the demo loader, migrations —
    there is no request transaction to wait for and the caller does what it needs
    after its own commit, so the callback is not kept."""
    callbacks = _AFTER_COMMIT.get()
    if callbacks is not None and callback not in callbacks:
        callbacks.append(callback)


def run_after_commit(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()
    callbacks.clear()


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session, inside one transaction committed before the response."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    with after_commit_scope() as callbacks:
        async with sessionmaker() as session:
            generation = getattr(request.app.state, "reference", None)
            if generation is not None:
                session.info["medsettle_reference"] = generation  # see app.kit.cache
            try:
                await session.begin()
                yield session
            except BaseException:
                try:
                    await session.rollback()
                except Exception:  # noqa: BLE001 - the connection is gone: never hand it on
                    await _invalidate(session)
                raise
            else:
                # The endpoint has returned: commit now, before FastAPI sends the response.
                # A failed commit raises here and becomes a problem response (a lost
                # connection: 503, see app.kit.dberrors); the connection is not reused.
                try:
                    await session.commit()
                except BaseException:
                    await _invalidate(session)
                    raise
                run_after_commit(callbacks)


async def _invalidate(session: AsyncSession) -> None:
    try:
        await session.invalidate()
    except Exception:  # noqa: BLE001 - being thrown away either way
        pass


#: Use this in endpoints and dependencies: ``session: DbSession``.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
