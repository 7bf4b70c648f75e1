"""A lost database connection is `503 database_unavailable` with ``Retry-After``, on
every path: the raw asyncpg paths map it in `app.kit.rawdb` (`_driver_errors`); this
module does the same for whatever reaches the app's exception handlers from SQLAlchemy
(sessions, auth, readiness) and gives reads their one retry.

* `connection_lost(exc)`: does ``exc`` (or anything in its cause chain, or the driver
  error SQLAlchemy wrapped) say the connection is gone? Killed backends
  (``pg_terminate_backend``, 57P01), a server restart, a closed socket, and asyncpg's
  "another operation is in progress" / "cannot switch to state" after a kill mid-query.
* `read_with_retry(engine, fn)`: runs a read on a pooled connection; when the connection
  turns out to be dead it is invalidated (never handed to anyone again) and the read runs
  once more on a fresh one. Auth's key lookup uses it; GET routes get the same retry from
  `app.kit.routing.DecimalJSONRoute`.
* `install_database_error_handlers(app)`: the handlers for SQLAlchemy's and the driver's
  exceptions: lost connection → 503 `database_unavailable`; a lock wait past
  ``lock_timeout`` or a pool checkout timeout → 503 `busy`; anything else stays a 500.

A dead connection noticed by the driver while idle in the pool (its socket closed) is
never checked out: `app.kit.db.create_engine` refuses it at checkout and the pool opens a
new one. One whose death is not yet visible fails its first statement, and then the
above applies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.kit.errors import problem_response
from app.kit.rawdb import CONNECTION_LOST, DatabaseUnavailable, LockTimeout

log = structlog.get_logger("medsettle.db")

T = TypeVar("T")

#: Driver errors meaning "this connection (or the server) is gone", beyond rawdb's list.
LOST = (
    *CONNECTION_LOST,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.TooManyConnectionsError,  # 53300: a restart storm; the server is there but full
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,  # 57P01 pg_terminate_backend, 57P02 crash shutdown
    asyncpg.CrashShutdownError,
)


#: SQLAlchemy's message when a transaction's connection was invalidated under it.
_INVALIDATED_IN_TRANSACTION = "Can't reconnect until invalid transaction is rolled back"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo.extend((getattr(e, "orig", None), e.__cause__, e.__context__))
    return seen


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` says the database connection is gone (see module docstring)."""
    for e in _chain(exc):
        if isinstance(e, DatabaseUnavailable):
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, LOST):
            return True
        if isinstance(e, sa_exc.PendingRollbackError) and _INVALIDATED_IN_TRANSACTION in str(e):
            return True  # the connection was invalidated (lost) inside the transaction
    return False


def already_retried(exc: BaseException) -> bool:
    """The error of a read that `read_with_retry` already ran twice: do not run it again."""
    return getattr(exc, "retried", False)


def _lock_timeout(exc: BaseException) -> bool:
    return any(isinstance(e, (asyncpg.LockNotAvailableError, LockTimeout)) for e in _chain(exc))


async def _invalidate(conn: AsyncConnection) -> None:
    try:
        await conn.invalidate()
    except Exception:  # noqa: BLE001 - it is being thrown away either way
        pass


async def read_with_retry(engine: AsyncEngine, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """``await fn(conn)`` on a pooled connection; a lost connection is invalidated and the
    read tried once more on a fresh one; lost again → `DatabaseUnavailable`. Only for
    reads: ``fn`` must write nothing (it may run twice)."""
    for attempt in (1, 2):
        try:
            async with engine.connect() as conn:
                try:
                    return await fn(conn)
                except Exception as exc:
                    if connection_lost(exc):
                        await _invalidate(conn)
                    raise
        except Exception as exc:
            if not connection_lost(exc):
                raise
            if attempt == 2:
                unavailable = DatabaseUnavailable()
                unavailable.retried = True  # type: ignore[attr-defined]  # see already_retried
                raise unavailable from exc
            log.info("read_retried_after_connection_loss", error=type(exc).__name__)
    raise AssertionError("unreachable")  # pragma: no cover


def _unavailable() -> JSONResponse:
    e = DatabaseUnavailable()
    return problem_response(e.status, e.code, e.title, e.detail, headers=e.headers)


def _busy() -> JSONResponse:
    e = LockTimeout()
    return problem_response(e.status, e.code, e.title, e.detail, headers=e.headers)


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if connection_lost(exc):
        log.warning("database_connection_lost", exc_type=type(exc).__name__)
        return _unavailable()
    if _lock_timeout(exc) or isinstance(exc, sa_exc.TimeoutError):
        log.warning("database_busy", exc_type=type(exc).__name__)
        return _busy()
    from app.kit.errors import _unhandled_handler

    return await _unhandled_handler(request, exc)


def install_database_error_handlers(app: FastAPI) -> None:
    for cls in (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.PendingRollbackError, *set(LOST)):
        app.add_exception_handler(cls, _database_error_handler)
    # asyncpg's own errors that escaped a mapping (e.g. a lock timeout outside rawdb).
    app.add_exception_handler(asyncpg.PostgresError, _database_error_handler)
    app.add_exception_handler(asyncpg.InterfaceError, _database_error_handler)

