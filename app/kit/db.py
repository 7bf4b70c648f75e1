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

from collections.abc import AsyncIterator, Callable
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from fastapi import Depends, Request
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


def create_engine(url: str, settings: Settings | None = None) -> AsyncEngine:
    settings = settings or Settings()
    return create_async_engine(
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


#: Callbacks run after a successful commit (e.g. bump the reference generation).
AFTER_COMMIT_KEY = "medsettle_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's transaction has committed."""
    callbacks: list[Callable[[], None]] = session.info.setdefault(AFTER_COMMIT_KEY, [])
    if callback not in callbacks:
        callbacks.append(callback)


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session, inside one transaction committed before the response."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        generation = getattr(request.app.state, "reference", None)
        if generation is not None:
            session.info["medsettle_reference"] = generation  # see app.kit.cache
        await session.begin()
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            # The endpoint has returned: commit now, before FastAPI sends the response.
            # A failed commit raises here and becomes a 5xx (or the error it maps to).
            await session.commit()
            for callback in session.info.pop(AFTER_COMMIT_KEY, []):
                callback()


#: Use this in endpoints and dependencies: ``session: DbSession``.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
