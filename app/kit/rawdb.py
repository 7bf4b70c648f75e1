"""A raw asyncpg connection in one transaction, for the hot settlement path.

The connection comes from SQLAlchemy's pool (so pool size and lifecycle are
shared with the ORM side) but statements go straight to asyncpg: the path
needs a handful of hand-written statements and none of the ORM's bookkeeping.
Like `DbSession`, the transaction commits once, after the endpoint returns and
before the response is sent; any exception rolls it back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.kit.errors import ProblemError

#: Callbacks to run once the request's raw transaction has committed.
AFTER_COMMIT_STATE = "raw_after_commit"

CONNECTION_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    # The protocol met a message it did not expect (e.g. the server's goodbye arriving
    # mid-statement): the connection can not be trusted again.
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
    OSError,
)


class DatabaseUnavailable(ProblemError):
    status, code, title = 503, "database_unavailable", "Database unavailable"

    def __init__(self) -> None:
        super().__init__("The database connection was lost; nothing was written. Retry the request.",
                         headers={"Retry-After": "1"})


class LockTimeout(ProblemError):
    status, code, title = 503, "busy", "Busy"

    def __init__(self) -> None:
        super().__init__("The person's records are busy with another settlement; retry shortly.",
                         headers={"Retry-After": "1"})


def after_commit(request: Request, callback: Callable[[], None]) -> None:
    callbacks = getattr(request.state, AFTER_COMMIT_STATE, None)
    if callbacks is None:
        callbacks = []
        setattr(request.state, AFTER_COMMIT_STATE, callbacks)
    callbacks.append(callback)


@asynccontextmanager
async def pooled_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled asyncpg connection, in no transaction: each statement is its own unless
    the caller opens one. A lost connection is dropped from the pool and becomes
    `DatabaseUnavailable`; a lock wait past ``lock_timeout`` becomes `LockTimeout`."""
    async with engine.connect() as sa_conn:
        raw = await sa_conn.get_raw_connection()
        conn: asyncpg.Connection = raw.driver_connection
        try:
            yield conn
        except CONNECTION_LOST as exc:
            # The connection is gone (killed backend, network): drop it from the
            # pool rather than hand a dead one to the next request.
            await sa_conn.invalidate()
            raise DatabaseUnavailable() from exc
        except asyncpg.LockNotAvailableError as exc:
            raise LockTimeout() from exc
        finally:
            if not conn.is_closed() and conn.is_in_transaction():
                await sa_conn.invalidate()  # see HeldConnections.connection


class HeldConnections:
    """Connections of SQLAlchemy's pool that the settlement path keeps checked out
    between requests, up to ``size`` idle ones.

    A checkout from SQLAlchemy's async pool and the check-in after it cost about 40 µs
    of CPU (greenlet hops, pool events, reset-on-return): a twelfth of a settlement. A
    held connection is handed over in a list pop. It is still the pool's connection —
    counted against ``pool_size``, closed by `close` at shutdown, and given back to the
    pool (which resets it) whenever anything unexpected happened on it, when it is older
    than ``max_age`` seconds (the engine's ``pool_recycle``), or when ``size`` are idle
    already. A lost connection is invalidated, as `pooled_connection` does.
    """

    def __init__(self, engine: AsyncEngine, size: int, max_age: float = 1800.0) -> None:
        self._engine = engine
        self._size = size
        self._max_age = max_age
        self._idle: list[tuple[AsyncConnection, asyncpg.Connection, float]] = []
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        while self._idle:
            sa_conn, conn, born = self._idle.pop()
            if not conn.is_closed():
                break
            await sa_conn.invalidate()  # its server went away while it was idle
            await sa_conn.close()
        else:
            sa_conn = await self._engine.connect()
            conn = (await sa_conn.get_raw_connection()).driver_connection
            born = time.monotonic()
        keep = False
        try:
            yield conn
            keep = True
        except CONNECTION_LOST as exc:
            await sa_conn.invalidate()
            raise DatabaseUnavailable() from exc
        except asyncpg.LockNotAvailableError as exc:
            keep = True
            raise LockTimeout() from exc
        except ProblemError:
            keep = True  # a refusal or conflict: the statements ran to their end
            raise
        finally:
            if not conn.is_closed() and conn.is_in_transaction():
                # Never hand on a connection inside a transaction: SQLAlchemy's reset on
                # return does not know of one begun on the driver connection.
                await sa_conn.invalidate()
                await sa_conn.close()
            elif keep and not self._closed and len(self._idle) < self._size and time.monotonic() - born < self._max_age:
                self._idle.append((sa_conn, conn, born))
            else:
                await sa_conn.close()

    async def close(self) -> None:
        """Give every idle connection back to the pool; later ones go back at once."""
        self._closed = True
        idle, self._idle = self._idle, []
        for sa_conn, _, _ in idle:
            await sa_conn.close()


async def get_raw_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with pooled_connection(request.app.state.engine) as conn, conn.transaction():
        yield conn
    for callback in getattr(request.state, AFTER_COMMIT_STATE, ()):
        callback()


#: ``conn: RawConnection`` — asyncpg, one transaction, committed before the response.
RawConnection = Annotated[asyncpg.Connection, Depends(get_raw_connection, scope="function")]
