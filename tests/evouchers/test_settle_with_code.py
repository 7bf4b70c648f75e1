"""Settling with an e-voucher code: issue → settle → replay → reuse refused; preview, expiry,
forgery, reversal, the race between two pharmacies, and med types a pharmacy may not settle."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from decimal import Decimal as D

import pytest

from app.evouchers.codes import hash_code, new_code
from tests.evouchers.helpers import issue, preview, purchase, settle
from tests.helpers import problem
from tests.world import P1, accumulators, add_person

pytestmark = pytest.mark.asyncio


async def test_issue_settle_replay_reuse(wallet, pharmacy, world):
    await add_person(world, "R1")  # Dongguan resident 390, no personal account
    code = (await issue(wallet, "R1"))["code"]

    body = purchase(code)
    r = await settle(pharmacy, body, "k-1")
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["person_id"], s["institution_code"], s["med_type"], s["status"]) == ("R1", P1, "41", "settled")
    # Resident policy, rule 41 (pharmacy): 50%, annual deductible 100.00 in the outpatient group.
    # 200.00 in scope: deductible 100.00; basic (200 − 100) × 50% = 50.00; pool self-pay 50.00;
    # personal 200 − 50 = 150.00, all cash (residents have no personal account).
    t = s["totals"]
    assert (t["total"], t["in_scope"], t["deductible"], t["basic_fund"], t["pool_self_pay"]) == (
        "200.00", "200.00", "100.00", "50.00", "50.00")
    assert (t["fund_total"], t["personal_total"], t["personal_account"], t["cash"]) == (
        "50.00", "150.00", "0.00", "150.00")
    assert [(f["fund"], f["fund_pay_type"], f["amount"]) for f in s["funds"]] == [("basic", "390100", "50.00")]
    acc = await accumulators(world, "R1")
    assert acc["basic_paid"] == D("50.00") and acc["deductible:outpatient"] == D("100.00")

    voucher = await world.fetchrow("SELECT consumed_by, consumed_at FROM e_vouchers")
    assert str(voucher["consumed_by"]) == s["settlement_id"] and voucher["consumed_at"] is not None
    stored = await world.fetchrow("SELECT person_id, e_voucher_hash FROM settlements")
    assert stored["person_id"] == "R1" and bytes(stored["e_voucher_hash"]) == hash_code(code)

    # The pharmacy's retry (same key, same body) is the same settlement, not a reuse of the code.
    again = await settle(pharmacy, body, "k-1")
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == s

    # Any other settlement with that code is refused, and nothing is written.
    before = await world.counts()
    problem(await settle(pharmacy, purchase(code, encounter_id="E2"), "k-2"), 422, "e_voucher_used")
    problem(await settle(pharmacy, body, "k-3"), 422, "e_voucher_used")
    problem(await preview(pharmacy, purchase(code, encounter_id="E3")), 422, "e_voucher_used")
    after = await world.counts()
    # Only the brute-force limiter keeps something: the three refusals, as failed attempts.
    assert after.pop("e_voucher_attempts") == before.pop("e_voucher_attempts") + 3
    assert after == before
    assert await accumulators(world, "R1") == acc


async def test_employee_settles_from_personal_account(wallet, pharmacy, world):
    await add_person(world, "EMP", insutype="310", retired=True, balance="100.00")
    code = (await issue(wallet, "EMP"))["code"]
    r = await settle(pharmacy, purchase(code))
    assert r.status_code == 201, r.text
    t = r.json()["totals"]
    # Employee policy: rule 41 at 50% + retired bonus 10% = 60%; deductible 100.00;
    # basic 100 × 60% = 60.00; personal 140.00: 100.00 from the account (all of it), 40.00 cash.
    assert (t["deductible"], t["basic_fund"], t["personal_total"], t["personal_account"], t["cash"]) == (
        "100.00", "60.00", "140.00", "100.00", "40.00")
    funds = {f["fund"]: (f["fund_pay_type"], f["amount"]) for f in r.json()["funds"]}
    assert funds == {"basic": ("310100", "60.00"), "personal_account": ("310200", "100.00")}
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id = 'EMP'") == D("0.00")


async def test_preview_does_not_consume(wallet, pharmacy, world):
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    body = purchase(code)
    previews = []
    for _ in range(2):
        r = await preview(pharmacy, body)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "preview" and r.json()["person_id"] == "R1"
        assert r.json()["totals"]["basic_fund"] == "50.00"
        previews.append(r.json())
    assert await world.fetchval("SELECT consumed_by FROM e_vouchers") is None
    assert await world.count("settlements") == 0
    assert await accumulators(world, "R1") == {}
    r = await settle(pharmacy, body)
    assert r.status_code == 201, r.text
    assert r.json()["totals"] == previews[0]["totals"] == previews[1]["totals"]


async def test_expiry(wallet, pharmacy, world, clock):
    await add_person(world, "R1")
    issued = await issue(wallet, "R1")
    code, expires_at = issued["code"], dt.datetime.fromisoformat(issued["expires_at"])

    clock.t = expires_at - dt.timedelta(seconds=1)  # the last valid second
    assert (await preview(pharmacy, purchase(code))).status_code == 200

    clock.t = expires_at  # expires *at* expires_at
    problem(await preview(pharmacy, purchase(code)), 422, "e_voucher_expired")
    problem(await settle(pharmacy, purchase(code)), 422, "e_voucher_expired")
    clock.advance(days=1)
    problem(await settle(pharmacy, purchase(code), "k-2"), 422, "e_voucher_expired")
    assert await world.fetchval("SELECT consumed_by FROM e_vouchers") is None
    assert await world.count("settlements") == 0
    assert await world.count("idempotency_keys") == 0


async def test_forged_and_truncated_codes(wallet, pharmacy, world, fresh_limiter):
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    forged = [
        new_code(),  # right shape, never issued
        "ev_" + secrets.token_urlsafe(32),
        code[:-1] + ("A" if code[-1] != "A" else "B"),  # one character off
        code[:-1],  # truncated
        code[:20],
        code + "x",  # too long
        code.upper(),
        " " + code,
        "ev_",
        "x",
        "ev_" + "!" * 43,
        "not a code at all 不是凭证",
    ]
    for i, bad in enumerate(forged):
        await fresh_limiter.reset()  # more attempts than the brute-force limit allows (see test_ratelimit)
        problem(await settle(pharmacy, purchase(bad), f"k-{i}"), 422, "e_voucher_invalid")
        problem(await preview(pharmacy, purchase(bad)), 422, "e_voucher_invalid")
    # Over the schema's 256 characters the body itself is invalid.
    problem(await settle(pharmacy, purchase("ev_" + "A" * 300), "k-long"), 422, "validation_error")
    # Exactly one of person_id and e_voucher_code.
    problem(await settle(pharmacy, {**purchase(code), "person_id": "R1"}, "k-both"), 422, "validation_error")
    assert await world.count("settlements") == 0
    # The real code was not harmed.
    assert (await settle(pharmacy, purchase(code), "k-real")).status_code == 201


async def test_reversal_does_not_revive_the_code(wallet, pharmacy, world):
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    first = (await settle(pharmacy, purchase(code))).json()
    r = await pharmacy.post(f"/v1/settlements/{first['settlement_id']}/reversal")
    assert r.status_code == 201 and r.json()["status"] == "reversed"
    assert await accumulators(world, "R1") == {}
    problem(await settle(pharmacy, purchase(code), "k-2"), 422, "e_voucher_used")
    problem(await settle(pharmacy, purchase(code, encounter_id="E2"), "k-3"), 422, "e_voucher_used")
    assert str(await world.fetchval("SELECT consumed_by FROM e_vouchers")) == first["settlement_id"]
    # The original key still replays the original settlement (now reversed: the stored first response).
    replay = await settle(pharmacy, purchase(code), "k-1")
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["settlement_id"] == first["settlement_id"]


@pytest.mark.parametrize("rounds", [5])
async def test_two_pharmacies_race_one_code(rounds, wallet, pharmacy, pharmacy2, world):
    await add_person(world, "R1")
    for n in range(rounds):
        code = (await issue(wallet, "R1"))["code"]
        results = await asyncio.gather(
            settle(pharmacy, purchase(code, encounter_id=f"A{n}"), f"race-{n}"),
            settle(pharmacy2, purchase(code, encounter_id=f"B{n}"), f"race-{n}"),
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses == [201, 422], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 422)
        problem(loser, 422, "e_voucher_used")
        winner = next(r for r in results if r.status_code == 201).json()
        assert await world.count("settlements", "e_voucher_hash = $1", hash_code(code)) == 1
        assert str(await world.fetchval(
            "SELECT consumed_by FROM e_vouchers WHERE code_hash = $1", hash_code(code))) == winner["settlement_id"]
    assert await world.count("settlements") == rounds
    # Exactly one deductible of 100.00, then 50% of each 200.00 purchase.
    acc = await accumulators(world, "R1")
    assert acc["deductible:outpatient"] == D("100.00")
    assert acc["basic_paid"] == D("50.00") + D("100.00") * (rounds - 1)


async def test_same_pharmacy_races_one_code_for_two_encounters(wallet, pharmacy, world):
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    results = await asyncio.gather(*(
        settle(pharmacy, purchase(code, encounter_id=f"E{i}"), f"k-{i}") for i in range(4)
    ))
    assert sorted(r.status_code for r in results) == [201, 422, 422, 422], [r.text for r in results]
    for r in results:
        if r.status_code == 422:
            problem(r, 422, "e_voucher_used")
    assert await world.count("settlements") == 1


@pytest.mark.parametrize("med_type", ["11", "21"])
async def test_pharmacy_may_not_settle_other_med_types(med_type, wallet, pharmacy, world):
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    problem(await preview(pharmacy, purchase(code, med_type=med_type)), 422, "med_type_not_allowed")
    problem(await settle(pharmacy, purchase(code, med_type=med_type)), 422, "med_type_not_allowed")
    assert await world.fetchval("SELECT consumed_by FROM e_vouchers") is None
    assert await world.count("settlements") == 0
    # The code is intact: the pharmacy corrects the med type and settles (a new key: the body changed).
    r = await settle(pharmacy, purchase(code), "k-2")
    assert r.status_code == 201, r.text


async def test_hospital_settles_with_a_code(wallet, hospital, world):
    """Not only pharmacies: a hospital outpatient visit may use the code too."""
    await add_person(world, "R1")
    code = (await issue(wallet, "R1"))["code"]
    r = await settle(hospital, purchase(code, med_type="11"))
    assert r.status_code == 201, r.text
    assert r.json()["person_id"] == "R1"
    problem(await settle(hospital, purchase(code, med_type="11", encounter_id="E2"), "k-2"), 422, "e_voucher_used")
