"""Brute-force protection: failed codes per institution in a sliding window → 429 with Retry-After."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from app.evouchers import ratelimit
from app.evouchers.codes import new_code
from app.evouchers.ratelimit import FailureLimiter
from tests.evouchers.conftest import START
from tests.evouchers.helpers import issue, metric, preview, purchase, settle
from tests.helpers import problem
from tests.world import add_person

T0 = START


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# ---------------------------------------------------------------------------- the limiter alone


async def fail(limiter: FailureLimiter, inst: str, t: dt.datetime) -> None:
    admission = await limiter.admit(inst, t)
    assert not isinstance(admission, int), admission
    await limiter.release(admission, t, failed=True)


@pytest.fixture
async def limiter_of(app):  # type: ignore[no-untyped-def]
    """Limiters with their own limits on the app's database (the table is emptied per test)."""
    made: list[FailureLimiter] = []

    def make(limit: int, window: int) -> FailureLimiter:
        made.append(FailureLimiter(limit=limit, window_seconds=window, dsn=app.state.database_url))
        return made[-1]

    yield make
    for limiter in made:
        await limiter.close()


async def test_sliding_window_and_retry_after(limiter_of):
    limiter = limiter_of(3, 60)
    await fail(limiter, "P1", at(0))
    await fail(limiter, "P1", at(10))
    await fail(limiter, "P1", at(20))
    assert await limiter.admit("P1", at(20)) == 40  # the failure at 0 leaves the window at 60: 60 - 20
    assert await limiter.admit("P1", at(59.5)) == 1  # ceil(60 - 59.5)
    assert await limiter.failures("P1", at(59.5)) == 3
    assert not isinstance(await limiter.admit("OTHER", at(30)), int)  # per institution
    ok = await limiter.admit("P1", at(60))  # sliding: one place is free again
    assert not isinstance(ok, int)
    await limiter.release(ok, at(60), failed=True)
    assert await limiter.admit("P1", at(60)) == 10  # now the failure at 10 is the oldest: 10 + 60 - 60
    assert await limiter.failures("P1", at(200)) == 0


async def test_successes_do_not_count_and_in_flight_attempts_do(limiter_of):
    limiter = limiter_of(2, 60)
    for _ in range(10):
        a = await limiter.admit("P1", at(0))
        assert not isinstance(a, int)
        await limiter.release(a, at(0), failed=False)
    assert await limiter.failures("P1", at(0)) == 0
    # Concurrent guesses: places are reserved at admission, so a burst cannot overshoot.
    a1, a2 = await limiter.admit("P1", at(0)), await limiter.admit("P1", at(0))
    assert not isinstance(a1, int) and not isinstance(a2, int)
    assert await limiter.admit("P1", at(0)) == 1
    assert await limiter.release(a1, at(1), failed=True) is False  # 1 of 2
    assert await limiter.release(a2, at(2), failed=True) is True  # the limit is reached
    assert await limiter.release(a2, at(2), failed=True) is False  # released once only
    assert await limiter.failures("P1", at(2)) == 2
    assert await limiter.admit("P1", at(2)) == 59  # the failure at 1 leaves at 61
    await limiter.reset()
    assert await limiter.failures("P1", at(2)) == 0


async def test_an_attempt_whose_process_died_stops_counting(limiter_of):
    """An admission never released (its worker was killed) holds its place for STALE_SECONDS only."""
    limiter = limiter_of(1, 60)
    assert not isinstance(await limiter.admit("P1", at(0)), int)  # never released
    assert await limiter.admit("P1", at(ratelimit.STALE_SECONDS - 1)) == 1
    assert not isinstance(await limiter.admit("P1", at(ratelimit.STALE_SECONDS)), int)


async def test_admissions_from_many_connections_never_exceed_the_limit(limiter_of):
    """Each admit is its own statement on its own pooled connection, as from several workers."""
    limiter = limiter_of(5, 60)
    results = await asyncio.gather(*(limiter.admit("P1", at(0)) for _ in range(30)))
    admitted = [r for r in results if not isinstance(r, int)]
    assert len(admitted) == 5 and results.count(1) == 25
    for a in admitted:
        await limiter.release(a, at(1), failed=True)
    assert await limiter.failures("P1", at(1)) == 5


def test_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv(ratelimit.LIMIT_ENV, "5")
    monkeypatch.setenv(ratelimit.WINDOW_ENV, "30")
    limiter = FailureLimiter.from_env()
    assert (limiter.limit, limiter.window_seconds) == (5, 30)
    monkeypatch.delenv(ratelimit.LIMIT_ENV)
    monkeypatch.delenv(ratelimit.WINDOW_ENV)
    assert (FailureLimiter.from_env().limit, FailureLimiter.from_env().window_seconds) == (20, 60)
    for bad in ("0", "-1", "many"):
        monkeypatch.setenv(ratelimit.LIMIT_ENV, bad)
        with pytest.raises(ValueError, match=ratelimit.LIMIT_ENV):
            FailureLimiter.from_env()


# ---------------------------------------------------------------------------- over HTTP


@pytest.mark.asyncio
async def test_429_after_too_many_failures(wallet, pharmacy, pharmacy2, world, clock, fresh_limiter):
    limit, window = fresh_limiter.limit, fresh_limiter.window_seconds
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    limited_before = await metric(pharmacy, "medsettle_e_voucher_failures_total", reason="rate_limited")

    # `limit` wrong guesses, settling and previewing, one second apart: all plain refusals.
    for i in range(limit):
        bad = purchase(new_code(), encounter_id=f"G{i}")
        r = await (settle(pharmacy, bad, f"g-{i}") if i % 2 else preview(pharmacy, bad))
        problem(r, 422, "e_voucher_invalid")
        clock.advance(seconds=1)
    # clock is now at T0 + limit; the first failure (at T0) leaves the window at T0 + window.
    wait = window - limit
    r = await settle(pharmacy, purchase(new_code()), "g-next")
    body = problem(r, 429, "too_many_attempts")
    assert r.headers["retry-after"] == str(wait)
    assert str(wait) in body["detail"]
    # Refused before the lookup: even the real code is not looked at, and not consumed.
    problem(await settle(pharmacy, purchase(code), "real"), 429, "too_many_attempts")
    problem(await preview(pharmacy, purchase(code)), 429, "too_many_attempts")
    assert await world.fetchval("SELECT consumed_by FROM e_vouchers") is None
    # Refusals are not failures: they do not extend the lock-out.
    assert await fresh_limiter.failures(pharmacy.institution_code, clock()) == limit
    assert await metric(pharmacy, "medsettle_e_voucher_failures_total", reason="rate_limited") == limited_before + 3

    # Another pharmacy is not affected.
    other = (await issue(wallet, "R1"))["code"]
    r = await settle(pharmacy2, purchase(other, encounter_id="X"), "x")
    assert r.status_code == 201, r.text

    # Time passes (no sleeping): the header counts down; one place frees at T0 + window.
    clock.advance(seconds=wait - 5)
    assert (await preview(pharmacy, purchase(code))).headers["retry-after"] == "5"
    clock.advance(seconds=5)
    # The refused request wrote nothing (not even its Idempotency-Key): the same key now settles.
    r = await settle(pharmacy, purchase(code), "real")
    assert r.status_code == 201, r.text
    assert "idempotent-replayed" not in r.headers


@pytest.mark.asyncio
async def test_a_usable_code_settles_while_the_institution_has_failures_under_its_limit(
    wallet, pharmacy, world, clock, fresh_limiter
):
    """With a live failure at the institution the read calls the gate function (it does not
    for an institution without any); under the limit the gate admits, reserves nothing, and
    the code settles on the optimistic path."""
    assert fresh_limiter.limit >= 3
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    for i in range(fresh_limiter.limit - 1):  # one place left
        problem(await settle(pharmacy, purchase(new_code(), encounter_id=f"G{i}"), f"g-{i}"), 422, "e_voucher_invalid")
    optimistic_before = await metric(pharmacy, "medsettle_settlement_paths_total", path="optimistic", reason="none")
    r = await settle(pharmacy, purchase(code), "real")
    assert r.status_code == 201, r.text
    assert await metric(pharmacy, "medsettle_settlement_paths_total", path="optimistic", reason="none") == optimistic_before + 1
    # Nothing reserved and nothing counted: the failures are the guesses', no attempt is left in flight.
    assert await fresh_limiter.failures(pharmacy.institution_code, clock()) == fresh_limiter.limit - 1
    assert await world.fetchval(
        "SELECT count(*) FROM e_voucher_attempts WHERE institution_code = $1 AND failed_at IS NULL",
        pharmacy.institution_code,
    ) == 0
    # The last place is still there: one more wrong guess is refused as a guess, not as 429.
    problem(await settle(pharmacy, purchase(new_code(), encounter_id="last"), "g-last"), 422, "e_voucher_invalid")
    problem(await settle(pharmacy, purchase(new_code(), encounter_id="over"), "g-over"), 429, "too_many_attempts")


@pytest.mark.asyncio
async def test_a_replay_is_not_an_attempt(wallet, pharmacy, world, clock, fresh_limiter):
    """Replaying the settlement that consumed a code needs no lookup: not refused, not counted,
    not blocked by a lock-out, and still answered after the code expired."""
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    first = await settle(pharmacy, purchase(code), "k-1")
    assert first.status_code == 201
    for i in range(fresh_limiter.limit):
        problem(await preview(pharmacy, purchase(new_code())), 422, "e_voucher_invalid")
    problem(await preview(pharmacy, purchase(code)), 429, "too_many_attempts")
    clock.advance(hours=1)  # the code has expired, the window has passed
    for _ in range(3):
        r = await settle(pharmacy, purchase(code), "k-1")
        assert r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
        assert r.json() == first.json()
    assert await fresh_limiter.failures(pharmacy.institution_code, clock()) == 0


@pytest.mark.asyncio
async def test_expired_and_used_codes_count_too(wallet, pharmacy, world, clock, fresh_limiter):
    await add_person(world, "R1")
    used = (await issue(wallet, "R1"))["code"]
    assert (await settle(pharmacy, purchase(used), "first")).status_code == 201
    expired = (await issue(wallet, "R1"))["code"]
    clock.advance(seconds=300)
    for i in range(fresh_limiter.limit):
        r = await preview(pharmacy, purchase(used if i % 2 else expired))
        problem(r, 422, "e_voucher_used" if i % 2 else "e_voucher_expired")
    problem(await preview(pharmacy, purchase(used)), 429, "too_many_attempts")
    clock.advance(seconds=fresh_limiter.window_seconds)
    problem(await preview(pharmacy, purchase(used)), 422, "e_voucher_used")


@pytest.mark.asyncio
async def test_a_concurrent_burst_cannot_overshoot(pharmacy, world, fresh_limiter):
    limit = fresh_limiter.limit
    results = await asyncio.gather(*(preview(pharmacy, purchase(new_code())) for _ in range(limit + 10)))
    codes = [r.json()["code"] for r in results]
    assert codes.count("e_voucher_invalid") <= limit
    assert codes.count("e_voucher_invalid") + codes.count("too_many_attempts") == limit + 10
    assert await fresh_limiter.failures(pharmacy.institution_code, world.app.state.clock()) <= limit
    for r in results:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1


@pytest.mark.asyncio
async def test_settlements_without_a_code_never_touch_the_limiter(pharmacy, world, fresh_limiter, monkeypatch):
    """The limiter's two statements are paid only by requests that carry a code."""

    async def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the limiter was consulted")

    await add_person(world, "R1")
    monkeypatch.setattr(fresh_limiter, "admit", refuse)
    monkeypatch.setattr(fresh_limiter, "release", refuse)
    body = purchase(new_code())
    body.update(person_id="R1", e_voucher_code=None)
    r = await settle(pharmacy, body, "by-person")
    assert r.status_code == 201, r.text
    assert (await preview(pharmacy, body)).status_code == 200
    assert await world.fetchval("SELECT count(*) FROM e_voucher_attempts") == 0
