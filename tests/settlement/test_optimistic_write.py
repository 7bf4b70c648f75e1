"""The optimistic settlement write and its fall-back to the locked transaction.

POST /v1/settlements first reads the person without a lock and writes in one statement
guarded by ``persons.state_version`` (app.settlement.repository.OPTIMISTIC_WRITE_SQL).
These tests force each way that write can decline — a state changed between read and
write, an Idempotency-Key taken meanwhile, a first use of a policy version — and check
that the locked path then decides exactly as if the optimistic try had never run, and
that the declined try left nothing behind.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.settlement import metrics
from app.settlement import service as service_module
from tests.helpers import problem
from tests.world import accumulators, add_person, encounter

pytestmark = pytest.mark.asyncio


def path_count(path: str, reason: str) -> float:
    return metrics.PATHS.labels(path, reason)._value.get()


async def _post(client, body, key):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": key})


async def _near_the_outpatient_limit(world) -> None:
    # General outpatient at a community institution: 60%, deductible 100 (met), annual
    # limit 1000 in group general_outpatient, 900.00 used: 100.00 of room.
    await add_person(world, "P001")
    await world.execute(
        "INSERT INTO accumulators (person_id, year, name, amount) VALUES"
        " ('P001', 2026, 'limit:general_outpatient', 900.00), ('P001', 2026, 'deductible:outpatient', 100.00),"
        " ('P001', 2026, 'basic_paid', 900.00)"
    )


def _visit(n: int):
    return encounter("P001", [("DRUG_A", "1", "100.00")], med_type="11", encounter_id=f"V{n}")


async def test_a_settlement_committed_between_read_and_write_sends_the_other_to_the_locked_path(
    community, world, monkeypatch
):
    await _near_the_outpatient_limit(world)
    await community.get("/v1/settlements")  # warm the key cache
    assert (await _post(community, _visit(0), "warm")).status_code == 201  # marks the policy in use
    # V0 took 60.00 of the 100.00 of room: 40.00 left.
    real_read = service_module.repo.read_for_settlement
    interfered = []

    async def read_then_let_another_settle(conn, **kw):
        state = await real_read(conn, **kw)
        if kw["idempotency_key"] == "outer" and not interfered:
            interfered.append(True)
            # Another visit of the same person settles while this one computes.
            inner = await _post(community, _visit(2), "inner")
            assert inner.status_code == 201, inner.text
            assert inner.json()["totals"]["basic_fund"] == "40.00"  # the last 40.00 of room
        return state

    monkeypatch.setattr(service_module.repo, "read_for_settlement", read_then_let_another_settle)
    stale_before = path_count("locked", "state_changed")
    optimistic_before = path_count("optimistic", "none")

    outer = await _post(community, _visit(1), "outer")

    assert outer.status_code == 201, outer.text
    assert interfered
    # Computed from the stale read, V1 would have paid 40.00 again; decided under the lock
    # it sees the room used up: 60.00 of its 60.00 is over the limit.
    assert outer.json()["totals"]["basic_fund"] == "0.00"
    assert outer.json()["totals"]["over_cap"] == "60.00"
    assert path_count("locked", "state_changed") == stale_before + 1
    assert path_count("optimistic", "none") == optimistic_before + 1  # the inner visit
    acc = await accumulators(world, "P001")
    assert acc["limit:general_outpatient"] == D("1000.00")  # 900 + 60 + 40 + 0
    assert acc["basic_paid"] == D("1000.00")
    assert await world.count("settlements") == 3
    assert await world.count("idempotency_keys") == 3
    version = await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'P001'")
    assert version == 3  # one bump per settlement, none for the declined write


async def test_a_key_taken_after_the_read_aborts_the_write_and_replays(pharmacy, world, monkeypatch):
    # Employee (310) at a pharmacy: 50%, annual deductible 100. The first purchase meets the
    # deductible: personal 100.00, all from the account: 250.00 → 150.00.
    await add_person(world, "EMP", insutype="310", balance="250.00")
    body = encounter("EMP", [("DRUG_A", "1", "100.00")], med_type="41")
    first = await _post(pharmacy, body, "same-key")
    assert first.status_code == 201
    assert first.json()["totals"]["personal_account"] == "100.00"
    version = await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'EMP'")
    real_read = service_module.repo.read_for_settlement

    async def read_before_the_key_was_stored(conn, **kw):
        state = await real_read(conn, **kw)
        # As if the first request committed just after this read: the key is not seen.
        return state if state is None else type(state)(**{**_fields(state), "stored": None})

    monkeypatch.setattr(service_module.repo, "read_for_settlement", read_before_the_key_was_stored)
    taken_before = path_count("locked", "idempotency_key_taken")

    retry = await _post(pharmacy, body, "same-key")

    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.content == first.content
    assert path_count("locked", "idempotency_key_taken") == taken_before + 1
    # Computed afresh (deductible met: basic 50.00, account 50.00), the write's guard passed
    # and debited 50.00; the taken key aborted the statement, and the debit with it.
    assert await world.fetchval("SELECT account_balance FROM persons WHERE person_id = 'EMP'") == D("150.00")
    assert await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'EMP'") == version
    assert await world.count("settlements") == 1
    # A different body under the taken key is refused the same way.
    other = encounter("EMP", [("DRUG_A", "1", "40.00")], med_type="41", encounter_id="E2")
    problem(await _post(pharmacy, other, "same-key"), 409, "idempotency_key_reused")
    assert await world.count("settlements") == 1


def _fields(state) -> dict:
    return {name: getattr(state, name) for name in state.__dataclass_fields__}


async def test_first_use_of_a_policy_version_is_marked_by_the_optimistic_write(hospital, world):
    await add_person(world, "P001")
    optimistic = path_count("optimistic", "none")
    r = await _post(hospital, encounter("P001", [("DRUG_A", "1", "10.00")]), "first")
    assert r.status_code == 201
    assert path_count("optimistic", "none") == optimistic + 1
    version = r.json()["policy_version"]  # 441900/390/2026-01-01
    region, insutype, effective_from = version.split("/")
    assert await world.fetchval(
        "SELECT in_use FROM policies WHERE region = $1 AND insutype = $2 AND effective_from = $3::text::date",
        region, insutype, effective_from,
    ) is True
    optimistic = path_count("optimistic", "none")
    r = await _post(hospital, encounter("P001", [("DRUG_A", "1", "10.00")], encounter_id="E2"), "second")
    assert r.status_code == 201
    assert path_count("optimistic", "none") == optimistic + 1


async def test_a_policy_replaced_after_the_read_aborts_the_write_and_is_409(hospital, world, monkeypatch):
    """The version the engine ran with was replaced (a new revision uploaded) between the
    read and the write: the optimistic write aborts (``policy_changed``), the locked one
    finds the same and answers 409 policy_changed; nothing is written."""
    await add_person(world, "P001")
    real_write = service_module.repo.insert_settlement_optimistic

    async def replace_the_policy_then_write(conn, *args, **kw):
        await world.pool.execute("UPDATE policies SET revision = revision + 1")  # behind the cache's back
        return await real_write(conn, *args, **kw)

    monkeypatch.setattr(service_module.repo, "insert_settlement_optimistic", replace_the_policy_then_write)
    before = path_count("locked", "policy_changed")
    problem(await _post(hospital, encounter("P001", [("DRUG_A", "1", "10.00")]), "k"), 409, "policy_changed")
    assert path_count("locked", "policy_changed") == before + 1
    assert await world.count("settlements") == 0
    assert await world.count("idempotency_keys") == 0
    assert await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'P001'") == 0


async def test_unknown_person_is_answered_by_the_locked_path(hospital, world):
    before = path_count("locked", "person_unknown")
    problem(await _post(hospital, encounter("NOBODY", [("DRUG_A", "1", "10.00")]), "k"), 404, "person_not_found")
    assert path_count("locked", "person_unknown") == before + 1
    assert await world.count("idempotency_keys") == 0


async def test_every_writer_of_a_persons_books_moves_the_state_version(hospital, ops, admin_client, world):
    """Reversal and a person update (which may set the balance) make an optimistic read stale."""
    await add_person(world, "P001", balance="300.00")
    s = (await _post(hospital, encounter("P001", [("MATERIAL_A", "1", "5000.00")]), "a")).json()
    v1 = await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'P001'")
    assert (await ops.post(f"/v1/settlements/{s['settlement_id']}/reversal")).status_code == 201
    v2 = await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'P001'")
    assert v2 == v1 + 1
    person = {
        "certno": "11010519491231002X", "name": "test", "gender": "female", "birth_date": "1949-12-31",
        "insured_region": "441900", "enrollments": [{"insutype": "390", "valid_from": "2020-01-01"}],
        "account_balance": "120.00",
    }  # fmt: skip
    r = await admin_client.put("/v1/persons/P001", json=person)
    assert r.status_code in (200, 201), r.text
    assert await world.fetchval("SELECT state_version FROM persons WHERE person_id = 'P001'") == v2 + 1
