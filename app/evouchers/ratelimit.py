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
however the guesses are spread over connections. (A caller would need `limit`
e-voucher requests in flight at once in one process, i.e. the whole
connection pool, to be refused without a single failure.)

The counter lives in process memory on purpose. It must survive the
settlement transaction that rolls back with the refusal (a row written in that
transaction would vanish with it), and it is consulted on the hot path, where
an extra round trip would cost every settlement. The price: with N worker
processes an institution gets up to N × limit failures per window. With codes
of 256 random bits that still leaves guessing hopeless; the limit is there to
make abuse visible (metrics, a log line) and expensive, not to carry secrecy.

Limits (read once, at import):

* ``MEDSETTLE_E_VOUCHER_FAILURE_LIMIT`` — failures allowed per window (default 20)
* ``MEDSETTLE_E_VOUCHER_FAILURE_WINDOW_SECONDS`` — the sliding window (default 60)

Times come from the caller (the service clock), never from `time`, so tests
move the clock instead of sleeping. All operations are synchronous and never
await, so within one event loop each is atomic; a lock makes them safe across
threads as well.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
from collections import deque
from dataclasses import dataclass, field

LIMIT_ENV = "MEDSETTLE_E_VOUCHER_FAILURE_LIMIT"
WINDOW_ENV = "MEDSETTLE_E_VOUCHER_FAILURE_WINDOW_SECONDS"
DEFAULT_LIMIT = 20
DEFAULT_WINDOW_SECONDS = 60


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
class _Institution:
    failures: deque[float]  # timestamps, oldest first, at most `limit` of them
    in_flight: int = 0


@dataclass(slots=True)
class Admission:
    """A reserved attempt; hand it back with `release` (and `fail` on a refusal)."""

    institution_code: str
    released: bool = field(default=False)


class FailureLimiter:
    """Sliding-window count of failed e-voucher attempts, per institution."""

    def __init__(self, limit: int = DEFAULT_LIMIT, window_seconds: int = DEFAULT_WINDOW_SECONDS) -> None:
        if limit <= 0 or window_seconds <= 0:
            raise ValueError("limit and window_seconds must be positive")
        self.limit = limit
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._by_institution: dict[str, _Institution] = {}

    @classmethod
    def from_env(cls) -> FailureLimiter:
        return cls(_positive_int(LIMIT_ENV, DEFAULT_LIMIT), _positive_int(WINDOW_ENV, DEFAULT_WINDOW_SECONDS))

    # ------------------------------------------------------------------ internals

    def _entry(self, institution_code: str) -> _Institution:
        entry = self._by_institution.get(institution_code)
        if entry is None:
            entry = self._by_institution[institution_code] = _Institution(deque(maxlen=self.limit))
        return entry

    def _expire(self, entry: _Institution, t: float) -> None:
        horizon = t - self.window_seconds
        while entry.failures and entry.failures[0] <= horizon:
            entry.failures.popleft()

    def _forget_if_idle(self, institution_code: str, entry: _Institution) -> None:
        if not entry.failures and entry.in_flight == 0:
            self._by_institution.pop(institution_code, None)

    # ------------------------------------------------------------------ API

    def admit(self, institution_code: str, now: dt.datetime) -> Admission | int:
        """Reserve one attempt, or the seconds to wait (≥ 1) when over the limit."""
        t = now.timestamp()
        with self._lock:
            entry = self._entry(institution_code)
            self._expire(entry, t)
            failures = len(entry.failures)
            if failures + entry.in_flight >= self.limit:
                if failures >= self.limit:
                    wait = entry.failures[0] + self.window_seconds - t
                    return min(max(1, math.ceil(wait)), self.window_seconds)
                return 1  # attempts in flight free their places within a request's time
            entry.in_flight += 1
            return Admission(institution_code)

    def release(self, admission: Admission, now: dt.datetime, *, failed: bool) -> bool:
        """End an attempt; with `failed`, count it. True when this failure reached the limit."""
        with self._lock:
            if admission.released:
                return False
            admission.released = True
            entry = self._entry(admission.institution_code)
            entry.in_flight = max(0, entry.in_flight - 1)
            reached = False
            if failed:
                t = now.timestamp()
                self._expire(entry, t)
                entry.failures.append(t)
                reached = len(entry.failures) >= self.limit
            self._forget_if_idle(admission.institution_code, entry)
            return reached

    def failures(self, institution_code: str, now: dt.datetime) -> int:
        """Failures of this institution inside the window ending at `now`."""
        with self._lock:
            entry = self._by_institution.get(institution_code)
            if entry is None:
                return 0
            self._expire(entry, now.timestamp())
            return len(entry.failures)

    def reset(self) -> None:
        """Forget everything (tests; an operator could expose it later)."""
        with self._lock:
            self._by_institution.clear()


#: The process's limiter. `resolve_e_voucher` uses it unless given another; it
#: is module-level because the settlement service calls `resolve_e_voucher`
#: with a connection and a clock reading only (see the module docstring).
LIMITER = FailureLimiter.from_env()


def reset() -> None:
    """Clear the process's limiter (for tests)."""
    LIMITER.reset()
