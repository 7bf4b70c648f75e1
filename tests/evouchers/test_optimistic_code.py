"""An e-voucher settlement takes the optimistic path like one by person_id: the code is
resolved in the read and consumed in the single guarded write. A code consumed by another
settlement between that read and the write makes the write undo itself
(``e_voucher_taken``), and the locked path then refuses the code as used."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.settlement import metrics
from app.settlement import service as service_module
from tests.evouchers.helpers import issue, purchase, settle
from tests.helpers import problem
from tests.world import accumulators, add_person

pytestmark = pytest.mark.asyncio


def path_count(path: str, reason: str) -> float:
    return metrics.PATHS.labels(path, reason)._value.get()


async def _policy_in_use(wallet, pharmacy, world) -> None:
    # The first settlement under a policy version takes the locked path (it marks the
    # version in use); settle one so the tests below see the steady state.
    await add_person(world, "WARM")
    r = await settle(pharmacy, purchase((await issue(wallet, "WARM"))["code"], encounter_id="W"), "warm")
    assert r.status_code == 201, r.text


async def test_a_code_settles_on_the_optimistic_path(wallet, pharmacy, world):
    await _policy_in_use(wallet, pharmacy, world)
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    optimistic = path_count("optimistic", "none")
    r = await settle(pharmacy, purchase(code), "k-1")
    assert r.status_code == 201, r.text
    assert path_count("optimistic", "none") == optimistic + 1
    # 200.00 at a pharmacy, deductible 100.00, 50 %: basic 50.00 (as in test_settle_with_code).
    assert r.json()["totals"]["basic_fund"] == "50.00"
    voucher = await world.fetchrow("SELECT consumed_by FROM e_vouchers WHERE person_id = 'R1'")
    assert str(voucher["consumed_by"]) == r.json()["settlement_id"]
    # The limiter's attempt was reserved by the read and ended by the write: none is left
    # in flight, and no failure was counted.
    assert await world.count("e_voucher_attempts") == 0


async def test_a_code_consumed_after_the_read_is_refused_and_nothing_is_written(wallet, pharmacy, world, monkeypatch):
    await _policy_in_use(wallet, pharmacy, world)
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    real_read = service_module.repo.read_for_settlement
    interfered = []

    async def read_then_let_another_settle(conn, **kw):
        read = await real_read(conn, **kw)
        if kw["idempotency_key"] == "outer" and not interfered:
            interfered.append(True)
            # The same code settles at the same pharmacy (another till) while this one computes.
            inner = await settle(pharmacy, purchase(code, encounter_id="E-inner"), "inner")
            assert inner.status_code == 201, inner.text
        return read

    monkeypatch.setattr(service_module.repo, "read_for_settlement", read_then_let_another_settle)
    changed = path_count("locked", "state_changed")
    outer = await settle(pharmacy, purchase(code, encounter_id="E-outer"), "outer")
    problem(outer, 422, "e_voucher_used")
    assert interfered
    # The inner settlement moved R1's state version: the guard declined first.
    assert path_count("locked", "state_changed") == changed + 1
    # One settlement of R1 and its key; the outer one left nothing, its balance change
    # and state-version bump were undone with the rest of its statement.
    assert await world.count("settlements", "person_id = 'R1'") == 1
    assert await world.count("idempotency_keys", "key = 'outer'") == 0
    assert (await accumulators(world, "R1"))["basic_paid"] == D("50.00")
    assert await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'R1'") == 1


async def test_a_code_consumed_behind_the_persons_back_aborts_the_write(wallet, pharmacy, world, monkeypatch):
    """Only the code changed after the read (not the person): the write's own check finds
    it consumed, aborts the whole statement, and the locked path refuses the code."""
    await _policy_in_use(wallet, pharmacy, world)
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    real_read = service_module.repo.read_for_settlement

    async def read_then_consume_the_code(conn, **kw):
        read = await real_read(conn, **kw)
        await world.execute("UPDATE e_vouchers SET consumed_by = gen_random_uuid(), consumed_at = now()")
        return read

    monkeypatch.setattr(service_module.repo, "read_for_settlement", read_then_consume_the_code)
    taken = path_count("locked", "e_voucher_taken")
    problem(await settle(pharmacy, purchase(code), "k-1"), 422, "e_voucher_used")
    assert path_count("locked", "e_voucher_taken") == taken + 1
    assert await world.count("settlements", "person_id = 'R1'") == 0
    assert await world.count("idempotency_keys", "key = 'k-1'") == 0
    assert await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'R1'") == 0
