"""Active screening 主动筛查 (seed 004; api.md): candidates over settlements made through the API,
with persons who must not be candidates, then a confirmation 零材料."""

from __future__ import annotations

import pytest

from tests.chronic.world import C1S, H1S, H2S, H3S, SN, add_person, add_registration, inpatient
from tests.helpers import problem

pytestmark = pytest.mark.asyncio


async def settled(client, person_id, date, diagnoses, n):
    body = inpatient(person_id, "1000.00", encounter_id=f"E{n}", date=date, diagnoses=diagnoses)
    r = await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": f"k{n}"})
    assert r.status_code == 201, r.text
    return r.json()["settlement_id"]


async def test_screening_candidates_and_confirmation(world, inst, ops):
    poor = {"aid_category": "registered_poor", "tiers": (("2020-01-01", None, 1),)}
    for pid in ("S1", "S3", "S4", "S5", "S6", "S9", "S11"):
        await add_person(world, pid, **poor)
    await add_person(world, "S2")  # no aid category
    await add_person(world, "S7", aid_category="minimum_living")
    await add_person(world, "S8", region="441900", aid_category="registered_poor")  # insured elsewhere
    await add_person(world, "S10", aid_category="extreme_poverty")
    await add_registration(world, "S5", "M07900", [H2S])  # active all year
    await add_registration(world, "S9", "M07900", [H2S], valid_to="2026-05-15")  # ended before the month's end
    h1, h2, h3 = await inst(H1S), await inst(H2S), await inst(H3S)

    s1a = await settled(h2, "S1", "2026-05-10", ["j44.1", "I10"], 1)  # J44 (case-insensitive) and I10
    s1b = await settled(h3, "S1", "2026-05-20", ["J44.9"], 2)
    s9 = await settled(h2, "S9", "2026-05-12", ["J44"], 3)
    s10 = await settled(h2, "S10", "2026-05-31", ["I10"], 4)  # M03900 names no aid category: poverty ones
    s11 = await settled(h2, "S11", "2026-05-01", ["B20.1"], 5)  # M02300 likewise
    # Not candidates:
    await settled(h3, "S2", "2026-05-10", ["J44", "I10"], 6)  # no aid category
    await settled(h1, "S3", "2026-05-10", ["J44"], 7)  # a level-1 hospital
    await settled(await inst(C1S), "S3", "2026-05-11", ["J44"], 8)  # a community institution
    await settled(h2, "S4", "2026-04-30", ["J44"], 9)  # April
    await settled(h2, "S4", "2026-06-01", ["J44"], 10)  # June
    await settled(h2, "S5", "2026-05-10", ["J44"], 11)  # registered on the month's last day
    reversed_id = await settled(h2, "S6", "2026-05-10", ["J44"], 12)
    assert (await h2.post(f"/v1/settlements/{reversed_id}/reversal")).status_code == 201  # not live
    await settled(h2, "S7", "2026-05-10", ["J44"], 13)  # minimum_living: M07900 is registered_poor only
    await settled(h2, "S8", "2026-05-10", ["J44"], 14)  # insured in 441900
    await settled(h2, "S1", "2026-05-11", ["K29"], 15)  # a diagnosis under no prefix: not evidence

    r = await ops.post("/v1/screenings", json={"region": SN, "month": "2026-05"})
    assert r.status_code == 200, r.text
    found = {(c["person_id"], c["disease_code"]): [e["settlement_id"] for e in c["evidence"]]
             for c in r.json()["candidates"]}
    assert found == {
        ("S1", "M03900"): [s1a],
        ("S1", "M07900"): [s1a, s1b],
        ("S9", "M07900"): [s9],
        ("S10", "M03900"): [s10],
        ("S11", "M02300"): [s11],
    }
    s9_candidate = next(c for c in r.json()["candidates"] if c["person_id"] == "S9")
    assert s9_candidate["evidence"] == [
        {"settlement_id": s9, "encounter_date": "2026-05-12", "institution_code": H2S, "diagnoses": ["J44"]}
    ]
    # Another month or another region: none of these.
    assert (await ops.post("/v1/screenings", json={"region": SN, "month": "2026-07"})).json() == {"candidates": []}
    assert (await ops.post("/v1/screenings", json={"region": "441900", "month": "2026-05"})).json()["candidates"] == []
    problem(await h2.post("/v1/screenings", json={"region": SN, "month": "2026-05"}), 403, "forbidden")

    # Confirmation 零材料: the registration is made by ops, the evidence recorded in the ledger.
    body = {"person_id": "S9", "disease_code": "M07900", "sites": [H2S], "evidence": s9_candidate["evidence"],
            "valid_from": "2026-06-01"}
    r = await ops.post("/v1/screenings/confirmations", json=body)
    assert r.status_code == 201, r.text
    reg = r.json()
    assert reg["certifier_code"] is None and reg["valid_from"] == "2026-06-01" and reg["valid_to"] == "2026-12-31"
    line = await world.fetchrow("SELECT source, status, registration_id::text, evidence::text FROM chronic_applications")
    assert (line["source"], line["status"], line["registration_id"]) == ("screening", "approved", reg["registration_id"])
    assert s9 in line["evidence"]
    # A June screening no longer lists S9 (registered at June's end); May's still does (not at May's end).
    june_settlement = await settled(h2, "S9", "2026-06-12", ["J44"], 16)
    assert june_settlement
    june = (await ops.post("/v1/screenings", json={"region": SN, "month": "2026-06"})).json()["candidates"]
    assert [(c["person_id"], c["disease_code"]) for c in june] == [("S4", "M07900")]  # S4's June settlement
    may = (await ops.post("/v1/screenings", json={"region": SN, "month": "2026-05"})).json()["candidates"]
    assert ("S9", "M07900") in [(c["person_id"], c["disease_code"]) for c in may]

    # Confirmations follow the registration rules, and evidence must be the person's.
    bad = {**body, "person_id": "S2", "evidence": [s1a]}
    problem(await ops.post("/v1/screenings/confirmations", json=bad), 422, "evidence_invalid")
    ordinary = {**body, "person_id": "S2", "evidence": ["门诊病历"]}
    problem(await ops.post("/v1/screenings/confirmations", json=ordinary), 422, "disease_not_covered")
    problem(await ops.post("/v1/screenings/confirmations", json=body), 422, "registration_overlaps")
