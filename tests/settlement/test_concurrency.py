"""Concurrency is tested, not assumed: parallel settlements for one person, retries
with one Idempotency-Key, and a database connection killed mid-settlement."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import asyncpg
import pytest

from app.kit.db import to_libpq_url
from tests.helpers import problem
from tests.world import accumulators, add_person, encounter

pytestmark = pytest.mark.asyncio


async def _post(client, body, key):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": key})


async def _deltas_sum(db, person_id: str) -> dict[str, D]:
    """What the live settlements' stored deltas add up to, by accumulator."""
    rows = await db.fetch(
        "SELECT d.name, sum(d.amount) AS amount FROM settlement_deltas d JOIN settlements s USING (settlement_id)"
        " WHERE s.person_id = $1 AND s.status = 'settled' AND d.name <> 'account_balance' GROUP BY d.name",
        person_id,
    )
    return {r["name"]: r["amount"] for r in rows if r["amount"] != 0}


async def test_twenty_concurrent_retries_with_one_key_settle_once(hospital, world):
    await add_person(world, "P001")
    body = encounter("P001", [("MATERIAL_A", "1", "5000.00")])
    responses = await asyncio.gather(*(_post(hospital, body, "one-key") for _ in range(20)))
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert len({r.content for r in responses}) == 1  # every caller got the same settlement
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert await world.count("settlements") == 1
    # 5000 − 1000 deductible = 4000 × 70% = 2800.00, once
    assert (await accumulators(world, "P001"))["basic_paid"] == D("2800.00")


async def test_fifty_parallel_settlements_never_overrun_the_outpatient_limit(community, world):
    # General outpatient at a community institution: 60%, annual deductible 100 (met), annual
    # limit 1000 in group general_outpatient, of which 900.00 is used: 100.00 of room left.
    await add_person(world, "P001")
    await world.execute(
        "INSERT INTO accumulators (person_id, year, name, amount) VALUES"
        " ('P001', 2026, 'limit:general_outpatient', 900.00), ('P001', 2026, 'deductible:outpatient', 100.00),"
        " ('P001', 2026, 'basic_paid', 900.00)"
    )
    await community.get("/v1/settlements")  # warm the key cache

    async def visit(n: int):
        body = encounter("P001", [("DRUG_A", "1", "100.00")], med_type="11", encounter_id=f"V{n}")
        return await _post(community, body, f"visit-{n}")

    responses = await asyncio.gather(*(visit(n) for n in range(50)))
    assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses if r.status_code != 201]
    paid = sorted(D(r.json()["totals"]["basic_fund"]) for r in responses)
    # Each visit would pay 100.00 × 60% = 60.00; the limit leaves 100.00: one visit gets 60.00,
    # the next 40.00, every other visit 0.00 (its 60.00 is over_cap). Order doesn't matter; the sum does.
    assert sum(paid) == D("100.00")
    assert paid[-2:] == [D("40.00"), D("60.00")] and set(paid[:-2]) == {D("0.00")}
    acc = await accumulators(world, "P001")
    assert acc["limit:general_outpatient"] == D("1000.00")
    assert acc["basic_paid"] == D("1000.00")
    # The accumulators are exactly the starting figures plus the stored deltas.
    deltas = await _deltas_sum(world, "P001")
    assert acc["limit:general_outpatient"] - D("900.00") == deltas["limit:general_outpatient"]
    assert acc["basic_paid"] - D("900.00") == deltas["basic_paid"]


async def test_parallel_purchases_never_overdraw_the_personal_account(pharmacy, world):
    # Employee (310) buying at a pharmacy: 50%, annual deductible 100. Balance 250.00.
    await add_person(world, "EMP", insutype="310", balance="250.00")
    await pharmacy.get("/v1/settlements")

    async def buy(n: int):
        body = encounter("EMP", [("DRUG_A", "1", "100.00")], med_type="41", encounter_id=f"B{n}")
        return await _post(pharmacy, body, f"buy-{n}")

    responses = await asyncio.gather(*(buy(n) for n in range(20)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    account = [D(r.json()["totals"]["personal_account"]) for r in responses]
    basic = sorted(D(r.json()["totals"]["basic_fund"]) for r in responses)
    # Whichever purchase runs first meets the 100.00 deductible (basic 0.00, personal 100.00);
    # every later one pays basic 50.00, personal 50.00. The account pays personal parts until empty:
    # 250.00 in all, never more.
    assert basic == [D("0.00")] + [D("50.00")] * 19
    assert sum(account) == D("250.00")
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id = 'EMP'") == D("0.00")
    stored = await world.fetchval(
        "SELECT sum(amount) FROM settlement_deltas WHERE name = 'account_balance'")
    assert stored == D("-250.00")


async def test_killed_connection_mid_settlement_leaves_nothing_and_retry_settles_once(hospital, world, database_dsn):
    await add_person(world, "P001")
    await world.execute(
        "INSERT INTO accumulators (person_id, year, name, amount) VALUES ('P001', 2026, 'basic_paid', 0)")
    await hospital.get("/v1/settlements")
    body = encounter("P001", [("MATERIAL_A", "1", "5000.00")])
    before = await world.counts()

    blocker = await asyncpg.connect(to_libpq_url(database_dsn))
    try:
        # Hold one accumulator row, so the settlement stops inside its write statement
        # (key row claimed, settlement row and lines inserted, accumulators half-way),
        # then kill its backend there.
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT 1 FROM accumulators WHERE person_id = 'P001' FOR UPDATE")
        task = asyncio.create_task(_post(hospital, body, "retry-me"))
        victim = None
        for _ in range(200):
            victim = await blocker.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
            if victim:
                break
            await asyncio.sleep(0.02)
        assert victim, "the settlement never reached its write"
        # It waits inside its write: its own settlement row is already there, uncommitted.
        assert await blocker.fetchval(
            "SELECT count(*) FROM pg_locks WHERE pid = $1 AND relation = 'settlements'::regclass", victim) >= 1
        assert await blocker.fetchval("SELECT pg_terminate_backend($1)", victim)
        await tx.rollback()
    finally:
        await blocker.close()

    failed = await task
    problem(failed, 503, "database_unavailable")
    assert failed.headers.get("Retry-After")
    assert await world.counts() == before  # no settlement, no lines, no key row, no accumulator

    retry = await _post(hospital, body, "retry-me")
    assert retry.status_code == 201, retry.text
    replay = await _post(hospital, body, "retry-me")
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert await world.count("settlements") == 1
    assert (await accumulators(world, "P001"))["basic_paid"] == D("2800.00")


async def test_parallel_settlements_and_reversals_keep_the_books(hospital, community, pharmacy, world):
    """Settlements and reversals of the same two persons racing each other: afterwards each
    person's accumulators and balance are exactly the start plus the live settlements' deltas."""
    import random

    rng = random.Random(42)
    await add_person(world, "EMP", insutype="310", balance="300.00")
    await add_person(world, "LOW", aid_category="minimum_living")
    for client in (hospital, community, pharmacy):
        await client.get("/v1/settlements")
    plans = []
    for n in range(24):
        person = rng.choice(["EMP", "LOW"])
        client, med_type = rng.choice([(hospital, "21"), (community, "11"), (pharmacy, "41")])
        lines = [("DRUG_A", str(rng.randint(1, 3)), "33.35"), ("DRUG_B10", "1", "57.10")]
        plans.append((client, encounter(person, lines, med_type=med_type, encounter_id=f"P{n}")))

    async def settle_then_maybe_reverse(n: int, client, body):
        r = await _post(client, body, f"par-{n}")
        assert r.status_code == 201, r.text
        if n % 3 == 0:  # a third are reversed while the others still settle
            rev = await client.post(f"/v1/settlements/{r.json()['settlement_id']}/reversal")
            assert rev.status_code == 201, rev.text

    await asyncio.gather(*(settle_then_maybe_reverse(n, c, b) for n, (c, b) in enumerate(plans)))
    assert await world.count("settlements", "status = 'reversed'") == 8
    for person, start in (("EMP", D("300.00")), ("LOW", D("0"))):
        deltas = await _deltas_sum(world, person)
        assert await accumulators(world, person) == deltas
        account = await world.fetchval(
            "SELECT coalesce(sum(d.amount), 0) FROM settlement_deltas d JOIN settlements s USING (settlement_id)"
            " WHERE s.person_id = $1 AND s.status = 'settled' AND d.name = 'account_balance'", person)
        balance = await world.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", person)
        assert balance == start + account >= 0
