"""Codes are never logged nor used as metric labels; failed attempts are counted in /metrics."""

from __future__ import annotations

import io
import logging

import pytest
import structlog

from app.kit.logging import configure_logging
from tests.evouchers.helpers import issue, metric, preview, purchase, settle
from tests.helpers import problem
from tests.world import add_person

pytestmark = pytest.mark.asyncio

FAILURES = "medsettle_e_voucher_failures_total"


async def test_failures_are_counted_by_reason(wallet, pharmacy, world, clock):
    await add_person(world, "R1")
    before = {r: await metric(pharmacy, FAILURES, reason=r) for r in ("invalid", "expired", "used", "rate_limited")}
    issued_before = await metric(pharmacy, "medsettle_e_vouchers_issued_total")

    used = (await issue(wallet, "R1"))["code"]
    assert (await settle(pharmacy, purchase(used))).status_code == 201
    problem(await preview(pharmacy, purchase(used)), 422, "e_voucher_used")
    problem(await settle(pharmacy, purchase("ev_short"), "k-2"), 422, "e_voucher_invalid")
    problem(await preview(pharmacy, purchase("ev_" + "A" * 43)), 422, "e_voucher_invalid")
    expired = (await issue(wallet, "R1"))["code"]
    clock.advance(minutes=10)
    problem(await preview(pharmacy, purchase(expired)), 422, "e_voucher_expired")

    after = {r: await metric(pharmacy, FAILURES, reason=r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {"invalid": 2, "expired": 1, "used": 1, "rate_limited": 0}
    assert await metric(pharmacy, "medsettle_e_vouchers_issued_total") == issued_before + 2

    text = (await pharmacy.get("/metrics")).text
    assert used not in text and expired not in text
    assert used[3:12] not in text  # not even a piece of it (e.g. in a route or label)


class _Capture:
    """Everything structlog and stdlib logging emit, rendered as in production (JSON, DEBUG level)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)

    def __enter__(self) -> _Capture:
        self.saved = structlog.get_config()
        configure_logging("DEBUG", json=True)
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=self.buffer))
        self.root_level = logging.getLogger().level
        logging.getLogger().addHandler(self.handler)
        logging.getLogger().setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.handler)
        logging.getLogger().setLevel(self.root_level)
        structlog.configure(**self.saved)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()


async def test_codes_never_reach_the_logs(wallet, pharmacy, world, clock, fresh_limiter, app):
    await add_person(world, "R1")
    with _Capture() as logs:
        code = (await issue(wallet, "R1"))["code"]
        expired = (await issue(wallet, "R1"))["code"]
        assert (await preview(pharmacy, purchase(code))).status_code == 200
        assert (await settle(pharmacy, purchase(code))).status_code == 201
        problem(await settle(pharmacy, purchase(code), "k-2"), 422, "e_voucher_used")
        forged = code[:-1] + ("A" if code[-1] != "A" else "B")
        problem(await preview(pharmacy, purchase(forged)), 422, "e_voucher_invalid")
        problem(await preview(pharmacy, purchase(code[:30])), 422, "e_voucher_invalid")
        clock.advance(minutes=6)
        problem(await preview(pharmacy, purchase(expired)), 422, "e_voucher_expired")
        for _ in range(fresh_limiter.limit):
            await preview(pharmacy, purchase(forged))
        problem(await preview(pharmacy, purchase(expired)), 429, "too_many_attempts")

        # An unexpected error while a code is in the request: the traceback must not carry it.
        def broken_clock():
            raise RuntimeError("clock failure")

        await fresh_limiter.reset()
        app.state.clock = broken_clock
        try:
            r = await settle(pharmacy, purchase(expired, encounter_id="E9"), "k-9")
        finally:
            app.state.clock = clock
        problem(r, 500, "internal_error")

    text = logs.text
    # The capture works: the refusals and the 500 were logged ...
    assert '"e_voucher_refused"' in text and '"reason": "used"' in text and '"reason": "expired"' in text
    assert '"e_voucher_rate_limited"' in text and '"e_voucher_failure_limit_reached"' in text
    assert "unhandled_exception" in text and "clock failure" in text
    # ... and no code, nor a recognisable piece of one, is anywhere in them.
    for secret in (code, expired, forged, code[:30]):
        assert secret not in text
        assert secret[3:19] not in text
