"""A raw asyncpg connection in one transaction, for the hot settlement path.

The connection comes from SQLAlchemy's pool (so pool size and lifecycle are
shared with the ORM side) but statements go straight to asyncpg: the path
needs a handful of hand-written statements and none of the ORM's bookkeeping.
Like `DbSession`, the transaction commits once, after the endpoint returns and
before the response is sent; any exception rolls it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.kit.db import POOL_RECYCLE_SECONDS, after_commit_scope, run_after_commit
from app.kit.errors import ProblemError

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


async def _driver_problem(exc: BaseException | None, sa_conn: AsyncConnection) -> ProblemError | None:
    """The problem a driver error stands for: a lost connection is invalidated (dropped from
    the pool rather than handed to the next request) and becomes `DatabaseUnavailable`; a
    lock wait past ``lock_timeout`` becomes `LockTimeout`. None for anything else."""
    if isinstance(exc, CONNECTION_LOST):
        await sa_conn.invalidate()
        return DatabaseUnavailable()
    if isinstance(exc, asyncpg.LockNotAvailableError):
        return LockTimeout()
    return None


@asynccontextmanager
async def _driver_errors(sa_conn: AsyncConnection) -> AsyncIterator[None]:
    """Driver errors in the block become their problems (`_driver_problem`)."""
    try:
        yield
    except (*CONNECTION_LOST, asyncpg.LockNotAvailableError) as exc:
        problem = await _driver_problem(exc, sa_conn)
        assert problem is not None
        raise problem from exc


@asynccontextmanager
async def pooled_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled asyncpg connection, in no transaction: each statement is its own unless
    the caller opens one. Driver errors as in `_driver_errors`."""
    async with engine.connect() as sa_conn:
        raw = await sa_conn.get_raw_connection()
        conn: asyncpg.Connection = raw.driver_connection
        try:
            async with _driver_errors(sa_conn):
                yield conn
        finally:
            if not conn.is_closed() and conn.is_in_transaction():
                # SQLAlchemy's reset on return does not know of a transaction begun on
                # the driver connection: never let the pool hand this one on.
                await sa_conn.invalidate()


@dataclass(slots=True)
class _Held:
    sa_conn: AsyncConnection
    conn: asyncpg.Connection
    born: float


class _HeldUse:
    """``async with held_connections.connection() as conn``: acquire, map driver errors,
    release (kept unless the connection was lost)."""

    __slots__ = ("_owner", "_held")

    def __init__(self, owner: HeldConnections) -> None:
        self._owner = owner
        self._held: _Held | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        self._held = await self._owner._acquire()
        return self._held.conn

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        held = self._held
        assert held is not None
        self._held = None
        problem = None
        try:
            problem = await _driver_problem(exc, held.sa_conn)
        finally:
            # A refusal, a conflict, a lock timeout: the statements ran to their end, keep
            # the connection. (A lost one was invalidated: `_release` sees it closed.)
            keep = exc is None or isinstance(exc, ProblemError) or problem is not None
            await self._owner._release(held, keep)
        if problem is not None:
            raise problem from exc


class HeldConnections:
    """Up to ``size`` connections of SQLAlchemy's pool that the settlement path keeps
    checked out between requests, handed to requests in arrival order.

    A checkout from SQLAlchemy's async pool and the check-in after it cost about 100 µs
    of CPU per settlement (greenlet hops, pool events, reset-on-return). A held
    connection is handed over in a list pop. It is still the pool's connection — counted
    against ``pool_size``, closed by `close` at shutdown, and given back to the pool
    (which resets it) whenever anything unexpected happened on it or when it is older
    than ``max_age`` seconds (the engine's ``pool_recycle``). A lost connection is
    invalidated, as `pooled_connection` does; one inside a transaction is never handed on.

    The settlement path uses at most ``size`` connections: a request that finds all of
    them busy waits for the next one released (first come, first served), as it would in
    the pool, so the pool's other connections and its overflow stay free for other routes.
    ``size`` 0: every request checks out from the pool, as other routes do.
    """

    def __init__(self, engine: AsyncEngine, size: int, max_age: float = POOL_RECYCLE_SECONDS) -> None:
        self._engine = engine
        self._size = size
        self._max_age = max_age
        self._idle: list[_Held] = []
        self._owned = 0  # idle + in use
        self._waiters: deque[asyncio.Future[_Held | None]] = deque()
        self._closed = False

    def connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A held connection for the block (in no transaction), given back after it; driver
        errors become problems as in `_driver_errors`. A class, not a generator-based
        context manager: this runs on every settlement, and the generator machinery cost
        more than the rest of it."""
        if self._size == 0:
            return pooled_connection(self._engine)
        return _HeldUse(self)

    async def _acquire(self) -> _Held:
        while True:
            while self._idle:
                held = self._idle.pop()
                if not held.conn.is_closed():
                    return held
                await self._drop(held, invalidate=True)  # its server went away while idle
            if self._owned < self._size:
                self._owned += 1
                try:
                    sa_conn = await self._engine.connect()
                    conn = (await sa_conn.get_raw_connection()).driver_connection
                except BaseException:
                    self._owned -= 1
                    self._wake(None)
                    raise
                return _Held(sa_conn, conn, time.monotonic())
            waiter: asyncio.Future[_Held | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                held_or_none = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    await self._release(waiter.result(), True)  # handed over as we were cancelled
                else:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                raise
            if held_or_none is not None:
                return held_or_none
            # a connection was dropped: there is room to open another

    async def _release(self, held: _Held, keep: bool) -> None:
        conn = held.conn
        if not conn.is_closed() and conn.is_in_transaction():
            await self._drop(held, invalidate=True)  # as in `pooled_connection`
        elif keep and not self._closed and not conn.is_closed() and time.monotonic() - held.born < self._max_age:
            if not self._wake(held):
                self._idle.append(held)
        else:
            await self._drop(held, invalidate=conn.is_closed())

    async def _drop(self, held: _Held, *, invalidate: bool) -> None:
        self._owned -= 1
        try:
            if invalidate:
                await held.sa_conn.invalidate()
            await held.sa_conn.close()
        finally:
            self._wake(None)

    def _wake(self, held: _Held | None) -> bool:
        """Hand ``held`` (or, with None, room for a new connection) to the first waiter."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)
                return True
        return False

    async def close(self) -> None:
        """Give every idle connection back to the pool; later ones go back at once."""
        self._closed = True
        idle, self._idle = self._idle, []
        for held in idle:
            await self._drop(held, invalidate=False)


async def get_raw_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    with after_commit_scope() as callbacks:
        async with pooled_connection(request.app.state.engine) as conn, conn.transaction():
            yield conn
        run_after_commit(callbacks)


#: ``conn: RawConnection`` — asyncpg, one transaction, committed before the response.
RawConnection = Annotated[asyncpg.Connection, Depends(get_raw_connection, scope="function")]
