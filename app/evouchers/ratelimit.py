"""Brute-force protection for e-voucher codes: failed attempts per institution.

Every refusal of a code (`e_voucher_invalid`, `e_voucher_expired`,
`e_voucher_used`) counts as one failure of the calling institution. Once an
institution has `limit` failures inside the last `window` seconds, its next
e-voucher previews and settlements are refused with `429 too_many_attempts`
and `Retry-After` (seconds until the oldest of those failures leaves the
window) *before* the code is looked up, so a refused guess costs nothing and
teaches nothing.

Attempts still running count against the limit too ("reserved"): without
that, a burst of concurrent guesses would all pass the check before the first
failure is recorded. So no more than `limit` failures per window get through,
however the guesses are spread over connections and worker processes.

The attempts live in PostgreSQL (table ``e_voucher_attempts``, function
``e_voucher_admit``, migration 0005), shared by every worker process: with
several workers an institution still gets exactly `limit` failures per window.
They are written outside the request's transaction, because a refusal rolls the
settlement back and a row written in that transaction would vanish with it: on a
small asyncpg pool of the limiter's own (`POOL_SIZE` connections per process,
opened on first use). Not on the service's pool: a request already holds one of
its connections when it asks the limiter, so a burst of e-voucher requests that
filled the pool would each wait for a second connection that never comes. The
limiter's connections are held for one statement and wait for nothing else, so
waiting for them always ends. Only requests that carry a
code pay for it (two statements: admit, release); other settlements never touch
the limiter. An attempt whose process died before releasing it stops counting
after `STALE_SECONDS`.

Limits (read once, at import):

* ``MEDSETTLE_E_VOUCHER_FAILURE_LIMIT`` — failures allowed per window (default 20)
* ``MEDSETTLE_E_VOUCHER_FAILURE_WINDOW_SECONDS`` — the sliding window (default 60)

Times come from the caller (the service clock), never from `time` or the
database's ``now()``, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from app.evouchers import tables  # noqa: F401 - e_voucher_attempts in the metadata
from app.kit.db import to_libpq_url
from app.kit.rawdb import CONNECTION_LOST, DatabaseUnavailable

LIMIT_ENV = "MEDSETTLE_E_VOUCHER_FAILURE_LIMIT"
WINDOW_ENV = "MEDSETTLE_E_VOUCHER_FAILURE_WINDOW_SECONDS"
DEFAULT_LIMIT = 20
DEFAULT_WINDOW_SECONDS = 60
#: An attempt in flight for longer than this is taken for one whose process died.
STALE_SECONDS = 60
#: Connections of the limiter's own pool, per process.
POOL_SIZE = 4


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {raw!r}")
    return value


@dataclass(slots=True)
class Admission:
    """A reserved attempt; hand it back with `release` (with ``failed`` on a refusal)."""

    institution_code: str
    attempt_id: int
    released: bool = field(default=False)


_ADMIT = "SELECT attempt_id, retry_after FROM e_voucher_admit($1, $2, $3, $4, $5)"
_SUCCEEDED = "DELETE FROM e_voucher_attempts WHERE attempt_id = $1"
# The attempt becomes a failure (or, if it was cleaned up as stale meanwhile, a new failure
# row); the count is of the failures the statement's snapshot sees, i.e. without this one.
_FAILED = """
WITH marked AS (
    UPDATE e_voucher_attempts SET failed_at = $2 WHERE attempt_id = $1 RETURNING 1
), added AS (
    INSERT INTO e_voucher_attempts (institution_code, started_at, failed_at)
    SELECT $3::text, $2::timestamptz, $2::timestamptz WHERE NOT EXISTS (SELECT 1 FROM marked) RETURNING 1
)
SELECT count(*) FROM e_voucher_attempts
 WHERE institution_code = $3 AND failed_at > $2::timestamptz - make_interval(secs => $4::integer)
"""
_FAILURES = """
SELECT count(*) FROM e_voucher_attempts
 WHERE institution_code = $1 AND failed_at > $2::timestamptz - make_interval(secs => $3::integer)
"""


class FailureLimiter:
    """Sliding-window count of failed e-voucher attempts, per institution, in PostgreSQL."""

    def __init__(
        self, limit: int = DEFAULT_LIMIT, window_seconds: int = DEFAULT_WINDOW_SECONDS, dsn: str | None = None
    ) -> None:
        if limit <= 0 or window_seconds <= 0:
            raise ValueError("limit and window_seconds must be positive")
        self.limit = limit
        self.window_seconds = window_seconds
        self.dsn = to_libpq_url(dsn) if dsn else None
        self._pool: asyncpg.Pool | None = None

    @classmethod
    def from_env(cls) -> FailureLimiter:
        return cls(_positive_int(LIMIT_ENV, DEFAULT_LIMIT), _positive_int(WINDOW_ENV, DEFAULT_WINDOW_SECONDS))

    def attach(self, database_url: str | None) -> tuple[str | None, asyncpg.Pool | None]:
        """Use this database from now on (the app's lifespan); hand the result to `detach`."""
        previous = (self.dsn, self._pool)
        self.dsn, self._pool = (to_libpq_url(database_url) if database_url else None), None
        return previous

    async def detach(self, previous: tuple[str | None, asyncpg.Pool | None]) -> None:
        """Close this database's connections and go back to what `attach` replaced."""
        await self.close()
        self.dsn, self._pool = previous

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            if self.dsn is None:
                raise RuntimeError("the e-voucher failure limiter has no database (app not started)")
            try:
                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=0, max_size=POOL_SIZE,
                    server_settings={"application_name": "medsettle-limiter"},
                )
            except CONNECTION_LOST as exc:
                raise DatabaseUnavailable() from exc
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except CONNECTION_LOST as exc:  # the pool replaces a closed connection on the next acquire
            raise DatabaseUnavailable() from exc

    async def admit(self, institution_code: str, now: dt.datetime) -> Admission | int:
        """Reserve one attempt, or the seconds to wait (≥ 1) when over the limit."""
        async with self._connection() as conn:
            row = await conn.fetchrow(
                _ADMIT, institution_code, now, self.limit, self.window_seconds, STALE_SECONDS
            )
        assert row is not None
        if row["attempt_id"] is None:
            return int(row["retry_after"])
        return Admission(institution_code, row["attempt_id"])

    async def release(self, admission: Admission, now: dt.datetime, *, failed: bool) -> bool:
        """End an attempt; with `failed`, count it. True when this failure reached the limit."""
        if admission.released:
            return False
        admission.released = True
        async with self._connection() as conn:
            if not failed:
                await conn.execute(_SUCCEEDED, admission.attempt_id)
                return False
            before = await conn.fetchval(
                _FAILED, admission.attempt_id, now, admission.institution_code, self.window_seconds
            )
        return before + 1 >= self.limit

    async def failures(self, institution_code: str, now: dt.datetime) -> int:
        """Failures of this institution inside the window ending at `now`."""
        async with self._connection() as conn:
            return int(await conn.fetchval(_FAILURES, institution_code, now, self.window_seconds))

    async def reset(self) -> None:
        """Forget everything (tests; an operator could expose it later)."""
        async with self._connection() as conn:
            await conn.execute("DELETE FROM e_voucher_attempts")


#: The service's limiter. `resolve_e_voucher` uses it unless given another; it is
#: module-level because the settlement service calls `resolve_e_voucher` with a
#: connection and a clock reading only. The app's lifespan attaches its engine.
LIMITER = FailureLimiter.from_env()


async def reset() -> None:
    """Clear the limiter (for tests)."""
    await LIMITER.reset()
