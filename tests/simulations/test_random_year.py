"""A seeded random year over HTTP, then simulations of it: the baseline reproduces
every stored settlement to the cent (api.md "Policy simulations").

The year has special-disease encounters (门诊特定病种 M03900), upward referrals whose
origin is sometimes reversed, cross-region encounters (Zhongshan, same province,
filed or not; Beijing, another province), a policy published mid-year (from 1 July:
level-3 deductible 900, ratio 0.72), reversals, aid-category changes and account
top-ups made through PUT /v1/persons, and employees paying from their accounts.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from tests.world import C1, H1, H2, H3, H3_BJ, H3_ZS, P1, encounter
from tests.simulations.helpers import policy, simulate

pytestmark = pytest.mark.asyncio

LINES = [("DRUG_A", "25.00"), ("DRUG_B10", "80.00"), ("ITEM_C", "500.00"), ("SERVICE_CAP100", "120.00"),
         ("NOT_LISTED", "15.50"), ("MATERIAL_A", "3000.00"), ("DRUG_INPATIENT_ONLY", "40.00"),
         ("SERVICE_GD", "95.00")]  # fmt: skip
CATEGORIES = [None, "extreme_poverty", "minimum_living", "registered_poor", "low_income"]
#: person_id, insutype, first aid category, first balance
PERSONS = [("R-A", "390", None, "0"), ("R-B", "390", "minimum_living", "0"), ("R-C", "390", "extreme_poverty", "0"),
           ("R-D", "390", "low_income", "0"), ("R-E", "390", None, "0"), ("E-A", "310", None, "800.00"),
           ("E-B", "310", None, "50.00")]  # fmt: skip
PLACES = [(H3, "21"), (H2, "21"), (H1, "21"), (C1, "11"), (P1, "41"), (H3, "11"), (H3, "14"), (C1, "14"),
          (H3_ZS, "21"), (H3_ZS, "11"), (H3_BJ, "21"), (H3_BJ, "11"), (H3, "21"), (H2, "21")]  # fmt: skip
FUND_COLUMNS = {"basic": "basic_fund", "critical_illness": "critical_illness", "medical_aid": "medical_aid",
                "fallback": "fallback", "secondary_aid": "secondary_aid", "personal_account": "personal_account",
                "cash": "cash"}  # fmt: skip


def person_body(person_id: str, insutype: str, category: str | None, balance: str) -> dict:
    return {"certno": "11010519491231002X", "name": "test", "gender": "female", "birth_date": "1949-12-31",
            "insured_region": "441900", "enrollments": [{"insutype": insutype, "valid_from": "2020-01-01"}],
            "retired": insutype == "310", "aid_category": category, "account_balance": balance}  # fmt: skip


async def random_year(world, make_client, rng: random.Random, *, change_policy: bool) -> dict:
    admin = await make_client("admin")
    ops = await make_client("ops")
    clients = {code: await make_client("institution", code) for code in (H3, H2, H1, C1, P1, H3_ZS, H3_BJ)}
    for person_id, insutype, category, balance in PERSONS:
        r = await admin.put(f"/v1/persons/{person_id}", json=person_body(person_id, insutype, category, balance))
        assert r.status_code == 201, r.text
        await world.execute(
            "INSERT INTO special_disease_registrations (registration_id, person_id, disease_code, certifier_code,"
            " valid_from, valid_to, all_sites, sites) VALUES (gen_random_uuid(), $1, 'M03900', $2,"
            " '2026-01-01', '2026-12-31', true, '{}')", person_id, H3)  # fmt: skip
        if rng.random() < 0.5:  # filed for Guangdong: Zhongshan encounters are then filed
            r = await ops.post(f"/v1/persons/{person_id}/cross-region-filings", json={
                "region": "440000", "valid_from": "2026-01-01", "valid_to": "2026-12-31", "kind": "temporary"})
            assert r.status_code == 201, r.text
    if change_policy:
        r = await admin.put("/v1/policies/441900/390/2026-07-01", json=policy(
            {"effective_from": "2026-07-01", "basic.rules.0.deductible": "900", "basic.rules.0.ratio": "0.72"}))
        assert r.status_code == 201, r.text

    live: list[tuple[str, str]] = []  # (institution, settlement_id)
    h2_inpatient: list[tuple[str, str]] = []  # (settlement_id, person) settled at H2, 21
    categories = {p: c for p, _, c, _ in PERSONS}
    counts = {"settled": 0, "refused": 0, "referred": 0, "reversed": 0, "category_changes": 0, "top_ups": 0}
    for step in range(140):
        person_id, insutype, _, _ = rng.choice(PERSONS)
        inst, med_type = rng.choice(PLACES)
        extra = {}
        if h2_inpatient and rng.random() < 0.3:  # an upward referral H2 → H3 from a stay at H2
            origin, person_id = rng.choice(h2_inpatient)
            r = await clients[H2].post("/v1/referrals", json={
                "person_id": person_id, "to_institution": H3, "origin_settlement_id": origin,
                "valid_from": "2026-01-01", "valid_to": "2026-12-31"})
            if r.status_code == 201:  # refused when the origin was reversed meanwhile
                inst, med_type = H3, "21"
                extra["referral_id"] = r.json()["referral_id"]
                insutype = next(t for p, t, _, _ in PERSONS if p == person_id)
                counts["referred"] += 1
                if rng.random() < 0.3 and any(s == origin for _, s in live):  # the origin reversed before the stay
                    live.remove((H2, origin))
                    assert (await clients[H2].post(f"/v1/settlements/{origin}/reversal")).status_code == 201
                    counts["reversed"] += 1
        lines = [(code, str(rng.randint(1, 4)), price) for code, price in rng.sample(LINES, rng.randint(1, 5))]
        body = encounter(person_id, lines, med_type=med_type, encounter_id=f"S{step}",
                         date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                         use_personal_account=rng.random() < 0.8,
                         special_disease="M03900" if med_type == "14" else None, **extra)  # fmt: skip
        r = await clients[inst].post("/v1/settlements", json=body, headers={"Idempotency-Key": f"step-{step}"})
        if r.status_code == 422:
            counts["refused"] += 1
        else:
            assert r.status_code == 201, r.text
            counts["settled"] += 1
            sid = r.json()["settlement_id"]
            live.append((inst, sid))
            if inst == H2 and med_type == "21":
                h2_inpatient.append((sid, person_id))
        if live and rng.random() < 0.2:
            inst_r, sid = live.pop(rng.randrange(len(live)))
            assert (await clients[inst_r].post(f"/v1/settlements/{sid}/reversal")).status_code == 201
            counts["reversed"] += 1
        if rng.random() < 0.08:  # the person's aid category changes (e.g. certified poor mid-year)
            pid, t, _, _ = rng.choice(PERSONS)
            categories[pid] = rng.choice(CATEGORIES)
            balance = await world.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", pid)
            r = await admin.put(f"/v1/persons/{pid}", json=person_body(pid, t, categories[pid], str(balance)))
            assert r.status_code == 200, r.text
            counts["category_changes"] += 1
        if rng.random() < 0.05:  # an employee's account is credited (年度划入)
            pid = rng.choice(["E-A", "E-B"])
            balance = await world.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", pid)
            r = await admin.put(f"/v1/persons/{pid}", json=person_body(pid, "310", categories[pid], str(balance + 200)))
            assert r.status_code == 200, r.text
            counts["top_ups"] += 1
    return counts


async def stored_sums(world, insutype: str, date_from: str, date_to: str) -> dict[str, D]:
    row = await world.fetchrow(
        "SELECT count(*) AS n, " + ", ".join(f"coalesce(sum({c}), 0) AS {f}" for f, c in FUND_COLUMNS.items())
        + " FROM settlements WHERE status = 'settled' AND policy_region = '441900' AND policy_insutype = $1"
        " AND encounter_date BETWEEN $2::text::date AND $3::text::date", insutype, date_from, date_to)  # fmt: skip
    return dict(row)


@pytest.mark.parametrize("seed", [20261202, 17])
async def test_baseline_reproduces_every_settlement(world, make_client, seed):
    rng = random.Random(seed)
    counts = await random_year(world, make_client, rng, change_policy=True)
    # the year really has what it is meant to have
    assert counts["settled"] > 80 and counts["reversed"] > 10 and counts["referred"] > 0
    assert counts["category_changes"] > 0
    assert await world.count("settlements", "med_type = '14'") > 0
    assert await world.count("settlements", "cross_region") > 0
    assert await world.count("settlements", "referral_id IS NOT NULL") > 0
    assert await world.count("settlements", "policy_effective_from = '2026-07-01'") > 0
    assert await world.count("settlements", "personal_account > 0") > 0
    assert await world.count("settlements", "medical_aid > 0") > 0
    ops = await make_client("ops")

    # 390 from May: settlements of January to April settled before a person's first
    # in-scope one start the accumulators; the later ones are replayed, out of scope.
    priors = await world.fetchval(
        "SELECT count(*) FROM settlements s WHERE s.policy_insutype = '390' AND s.encounter_date < '2026-05-01' AND s.settled_at < "
        "(SELECT min(f.settled_at) FROM settlements f WHERE f.person_id = s.person_id AND f.policy_insutype = '390'"
        " AND f.encounter_date >= '2026-05-01')")
    assert priors > 0
    for insutype, date_from, draft in (
        ("390", "2026-05-01", policy()),
        ("390", "2026-01-01", policy({"basic.rules.0.deductible": "500"})),
        ("310", "2026-01-01", policy({"insutype": "310", "basic.retired_bonus": "0.10", "medical_aid": None,
                                      "secondary_aid": None})),
    ):
        result = await simulate(ops, draft, insutype=insutype, date_from=date_from)
        assert result["baseline_mismatches"] == 0, (insutype, date_from)
        stored = await stored_sums(world, insutype, date_from, "2026-12-31")
        assert result["settlements"] == stored["n"] > 0
        for f in result["funds"]:
            assert D(f["baseline"]) == stored[f["fund"]], (insutype, f)
        burden = result["personal_burden"]
        assert D(burden["baseline"]) == stored["personal_account"] + stored["cash"]


async def test_identical_draft_on_a_random_year_differs_nowhere(world, make_client):
    # One policy all year: a draft equal to it gives exactly the stored settlements.
    await random_year(world, make_client, random.Random(5), change_policy=False)
    ops = await make_client("ops")
    result = await simulate(ops, policy())
    assert result["baseline_mismatches"] == 0 and result["draft_refusals"] == 0
    assert all(f["difference"] == "0.00" for f in result["funds"])
    assert result["top_changes"] == []
    assert result["caps_hit"]["baseline"] == result["caps_hit"]["draft"]
