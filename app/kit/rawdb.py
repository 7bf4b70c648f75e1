"""A raw asyncpg connection in one transaction, for the hot settlement path.

The connection comes from SQLAlchemy's pool (so pool size and lifecycle are
shared with the ORM side) but statements go straight to asyncpg: the path
needs a handful of hand-written statements and none of the ORM's bookkeeping.
Like `DbSession`, the transaction commits once, after the endpoint returns and
before the response is sent; any exception rolls it back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from app.kit.errors import ProblemError

#: Callbacks to run once the request's raw transaction has committed.
AFTER_COMMIT_STATE = "raw_after_commit"

CONNECTION_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
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
        try:
            yield raw.driver_connection
        except CONNECTION_LOST as exc:
            # The connection is gone (killed backend, network): drop it from the
            # pool rather than hand a dead one to the next request.
            await sa_conn.invalidate()
            raise DatabaseUnavailable() from exc
        except asyncpg.LockNotAvailableError as exc:
            raise LockTimeout() from exc


async def get_raw_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with pooled_connection(request.app.state.engine) as conn, conn.transaction():
        yield conn
    for callback in getattr(request.state, AFTER_COMMIT_STATE, ()):
        callback()


#: ``conn: RawConnection`` — asyncpg, one transaction, committed before the response.
RawConnection = Annotated[asyncpg.Connection, Depends(get_raw_connection, scope="function")]
