"""Process-wide reference-data generation, invalidated across processes by NOTIFY.

Reference data (institutions, catalog items, policies, API keys) changes rarely
and is read on every settlement, so other modules cache it in-process. They key
their caches on :attr:`ReferenceGeneration.value`:

* every admin write calls :func:`notify_reference_change` inside its transaction:
  ``NOTIFY medsettle_reference`` is sent on commit (PostgreSQL delivers it only if
  the transaction commits) and this process bumps its generation right after its
  commit;
* :class:`ReferenceListener` keeps a dedicated asyncpg connection LISTENing and
  bumps on every notification (other processes' writes);
* while that connection is down :attr:`ReferenceGeneration.reliable` is ``False``
  and caches must be bypassed; on loss and on reconnect the generation is bumped.

Readers must read ``value`` *before* querying the database and store the result
under that value, so an entry computed from pre-commit data can never be filed
under the post-commit generation.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.db import after_commit, to_libpq_url

CHANNEL = "medsettle_reference"
SESSION_KEY = "medsettle_reference"

log = structlog.get_logger("medsettle.cache")


class ReferenceGeneration:
    """A counter that moves whenever reference data may have changed."""

    def __init__(self, reliable: bool = True) -> None:
        self._counter = itertools.count(1)
        self.value: int = next(self._counter)
        #: False while cross-process invalidation is not guaranteed: bypass caches.
        self.reliable: bool = reliable

    def bump(self) -> int:
        self.value = next(self._counter)
        return self.value

    @property
    def cache_key(self) -> int | None:
        """The generation to key caches on, or None when caching must be skipped."""
        return self.value if self.reliable else None


class GenerationCache:
    """A small dict cache dropped whole whenever the reference generation moves."""

    def __init__(self, generation: ReferenceGeneration, max_entries: int = 10_000) -> None:
        self._generation = generation
        self._max = max_entries
        self._at: int | None = None
        self._data: dict[Any, Any] = {}

    def get(self, key: Any, at: int | None) -> Any | None:
        if at is None or at != self._at:
            return None
        return self._data.get(key)

    def put(self, key: Any, value: Any, at: int | None) -> None:
        """Store ``value`` computed from data read at generation ``at``."""
        if at is None or at != self._generation.value or not self._generation.reliable:
            return
        if at != self._at:
            self._data = {}
            self._at = at
        if len(self._data) >= self._max:
            self._data.clear()
        self._data[key] = value

    def clear(self) -> None:
        self._data = {}
        self._at = None


async def notify_reference_change(session: AsyncSession) -> None:
    """Call inside the transaction of every write to reference data or API keys."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    generation: ReferenceGeneration | None = session.info.get(SESSION_KEY)
    if generation is not None:
        after_commit(generation.bump)


class ReferenceListener:
    """LISTENs on a dedicated connection; bumps the generation on notifications and losses."""

    def __init__(
        self,
        url: str,
        generation: ReferenceGeneration,
        *,
        retry_seconds: float = 1.0,
        keepalive_seconds: float = 10.0,
    ) -> None:
        self._dsn = to_libpq_url(url)
        self._generation = generation
        self._retry = retry_seconds
        self._keepalive = keepalive_seconds
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self.connection: asyncpg.Connection | None = None

    async def start(self, wait_seconds: float = 5.0) -> None:
        self._generation.reliable = False
        self._task = asyncio.create_task(self._run(), name="medsettle-reference-listener")
        try:
            await asyncio.wait_for(self._connected.wait(), wait_seconds)
        except TimeoutError:
            log.warning("reference_listener_not_connected")

    async def wait_connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._generation.reliable = False

    def _on_notify(self, *_: Any) -> None:
        self._generation.bump()

    async def _run(self) -> None:
        while not self._stopping:
            conn: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self._dsn)
                on_lost: Callable[[Any], None] = lambda _c: lost.set()  # noqa: E731
                conn.add_termination_listener(on_lost)
                await conn.add_listener(CHANNEL, self._on_notify)
                self.connection = conn
                # Anything may have changed while we were not listening.
                self._generation.bump()
                self._generation.reliable = True
                self._connected.set()
                log.info("reference_listener_connected")
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), self._keepalive)
                    except TimeoutError:
                        await asyncio.wait_for(conn.execute("SELECT 1"), self._keepalive)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, lost, keepalive failed
                log.warning("reference_listener_lost", error=type(exc).__name__)
            finally:
                self._generation.reliable = False
                self._generation.bump()
                self._connected.clear()
                self.connection = None
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if not self._stopping:
                await asyncio.sleep(self._retry)
