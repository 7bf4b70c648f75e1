"""E-voucher use cases: issue a code to the wallet; resolve a code at settlement time.

The code is never logged, never put in a metric label, and stored only as its
SHA-256 digest (see `codes`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.evouchers import ratelimit
from app.evouchers import repository as repo
from app.persons import repository as persons_repo
from app.evouchers.codes import hash_code, new_code, well_formed
from app.evouchers.exceptions import (
    EVoucherExpired,
    EVoucherInvalid,
    EVoucherRefused,
    EVoucherUsed,
    NotInsured,
    PersonNotFound,
    TooManyAttempts,
)
from app.evouchers.metrics import FAILURES, ISSUED
from app.kit.clock import CST

log = structlog.get_logger("medsettle.evouchers")


@dataclass(frozen=True, slots=True)
class IssuedVoucher:
    code: str
    expires_at: dt.datetime


async def issue_e_voucher(
    session: AsyncSession, person_id: str, *, now: dt.datetime, ttl_seconds: int
) -> IssuedVoucher:
    """A fresh code for an insured person, valid `ttl_seconds` from `now`.

    "Insured" means an enrollment active on `now`'s China-time calendar date.
    Earlier codes of the person stay valid until they expire or settle (a
    person may show the code on more than one device).
    """
    insured = await persons_repo.insured_on(session, person_id, now.astimezone(CST).date())
    if insured is None:
        raise PersonNotFound()
    if not insured:
        raise NotInsured()
    code = new_code()
    expires_at = now + dt.timedelta(seconds=ttl_seconds)
    await repo.insert_voucher(session, hash_code(code), person_id, now, expires_at)
    ISSUED.inc()
    return IssuedVoucher(code=code, expires_at=expires_at)


@asynccontextmanager
async def voucher_attempt(
    institution_code: str, now: dt.datetime, limiter: ratelimit.FailureLimiter | None = None
) -> AsyncIterator[None]:
    """One attempt of an institution to use a code: refused with `429 too_many_attempts`
    before anything is looked up once the institution is over its failure limit; an
    `EVoucherRefused` raised inside counts as one failure (see `ratelimit`). Both ways
    a settlement resolves a code (the optimistic read and the locked one) go through it."""
    limiter = limiter or ratelimit.LIMITER
    admission = await limiter.admit(institution_code, now)
    if isinstance(admission, int):
        FAILURES.labels("rate_limited").inc()
        log.warning("e_voucher_rate_limited", institution_code=institution_code, retry_after=admission)
        raise TooManyAttempts(admission)
    failed = False
    try:
        yield
    except EVoucherRefused as exc:
        failed = True
        FAILURES.labels(exc.reason).inc()
        log.info("e_voucher_refused", institution_code=institution_code, reason=exc.reason)
        raise
    finally:
        if await limiter.release(admission, now, failed=failed):
            log.warning(
                "e_voucher_failure_limit_reached",
                institution_code=institution_code,
                limit=limiter.limit,
                window_seconds=limiter.window_seconds,
            )


def admission_arguments(now: dt.datetime) -> tuple[dt.datetime, int, int, int]:
    """What ``settlement_e_voucher_gate`` takes besides the institution, the key and the
    code's state, when a settlement's own read decides the admission
    (app.settlement.repository.READ_BY_E_VOUCHER_SQL)."""
    limiter = ratelimit.LIMITER
    return now, limiter.limit, limiter.window_seconds, ratelimit.STALE_SECONDS


def admitted(
    institution_code: str, admitted: bool, attempt_id: int | None, retry_after: int | None
) -> ratelimit.Admission | None:
    """What a settlement's read decided (``settlement_e_voucher_gate``, or its ``EXISTS``):
    the attempt it reserved (for a consumed or expired code), None when admitted without a
    reservation (a usable code), or `429 too_many_attempts` (as `voucher_attempt` refuses
    one)."""
    if not admitted:
        FAILURES.labels("rate_limited").inc()
        log.warning("e_voucher_rate_limited", institution_code=institution_code, retry_after=retry_after)
        raise TooManyAttempts(int(retry_after or 1))
    return None if attempt_id is None else ratelimit.Admission(institution_code, attempt_id)


async def end_attempt(admission: ratelimit.Admission, now: dt.datetime, refused: EVoucherRefused | None) -> None:
    """End an attempt `admitted` returned: a refusal of the code counts as one failure."""
    limiter = ratelimit.LIMITER
    if refused is not None:
        FAILURES.labels(refused.reason).inc()
        log.info("e_voucher_refused", institution_code=admission.institution_code, reason=refused.reason)
    if await limiter.release(admission, now, failed=refused is not None):
        log.warning(
            "e_voucher_failure_limit_reached",
            institution_code=admission.institution_code,
            limit=limiter.limit,
            window_seconds=limiter.window_seconds,
        )


def code_digest(code: str) -> bytes:
    """The stored form of a code; a malformed one is `e_voucher_invalid` at once."""
    if not well_formed(code):
        raise EVoucherInvalid()
    return hash_code(code)


def check_voucher(*, found: bool, used: bool, expires_at: dt.datetime | None, now: dt.datetime) -> None:
    """Refusals, in this order: unknown → invalid, consumed → used, expired → expired."""
    if not found:
        raise EVoucherInvalid()
    if used:
        raise EVoucherUsed()
    assert expires_at is not None
    if expires_at <= now:
        raise EVoucherExpired()


async def resolve_e_voucher(
    conn: asyncpg.Connection,
    code: str,
    *,
    institution_code: str,
    now: dt.datetime,
    for_update: bool,
    limiter: ratelimit.FailureLimiter | None = None,
) -> tuple[str, bytes]:
    """The person a code stands for, and the code's hash (`check_voucher`'s refusals,
    counted by `voucher_attempt`).

    With `for_update` the voucher row stays locked until the settlement commits,
    so two pharmacies racing one code queue here and the second sees it used.
    """
    async with voucher_attempt(institution_code, now, limiter):
        code_hash = code_digest(code)
        row = await conn.fetchrow(
            "SELECT person_id, expires_at, consumed_by FROM e_vouchers WHERE code_hash = $1"
            + (" FOR UPDATE" if for_update else ""),
            code_hash,
        )
        check_voucher(
            found=row is not None,
            used=row is not None and row["consumed_by"] is not None,
            expires_at=row["expires_at"] if row else None,
            now=now,
        )
        assert row is not None
        return row["person_id"], code_hash
