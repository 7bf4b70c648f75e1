"""The demo world shows each rule of seeds 000/002/004 (docs/chronic.md)."""

from __future__ import annotations

import pytest

from tests.helpers import make_asgi_client, problem

pytestmark = pytest.mark.asyncio

METFORMIN = "XA10BAA001A001010100"  # 二甲双胍片, category A, no price cap


def copd(person_id: str, n: int, amount_qty: str = "1500") -> dict:
    # 1500 × 2.00 = 3000.00 in scope (category A).
    return {"person_id": person_id, "encounter_id": f"DEMO-{n}", "med_type": "14", "encounter_date": "2026-03-10",
            "special_disease": "M07900", "diagnoses": ["J44.9"],
            "items": [{"line_no": 1, "code": METFORMIN, "qty": amount_qty, "unit_price": "2.00"}]}


async def test_demo_tiers_aid_only_certifiers_and_ledger(app, demo_world) -> None:
    async with make_asgi_client(app, demo_world["institution:H51090000002"]) as h2, \
            make_asgi_client(app, demo_world["ops"]) as ops, \
            make_asgi_client(app, demo_world["institution:H44200000002"]) as zs2:  # fmt: skip
        # Tier 1: 3000.00 × 75 % (Suining's 14 rule) = 2250.00 > 1500.00: basic 1500.00, over 750.00.
        r = await h2.post("/v1/settlements", json=copd("P510900000004", 1), headers={"Idempotency-Key": "d1"})
        assert r.status_code == 201, r.text
        assert (r.json()["totals"]["basic_fund"], r.json()["totals"]["over_cap"]) == ("1500.00", "750.00")
        # Tier 2: 2250.00 ≤ 3000.00: all of it.
        r = await h2.post("/v1/settlements", json=copd("P510900000010", 2), headers={"Idempotency-Key": "d2"})
        assert (r.json()["totals"]["basic_fund"], r.json()["totals"]["over_cap"]) == ("2250.00", "0.00")
        # No tier: refused.
        r = await h2.post("/v1/settlements", json=copd("P510900000011", 3), headers={"Idempotency-Key": "d3"})
        problem(r, 422, "tier_not_covered")
        # An ordinary resident: the poor's disease is not theirs.
        reg = {"disease_code": "M07900", "valid_from": "2026-01-01", "valid_to": "2026-12-31", "sites": ["H51090000002"]}
        problem(await h2.post("/v1/persons/P510900000001/special-disease-registrations", json=reg), 422,
                "disease_not_covered")
        # Zhongshan AIDS: only the designated 中山市人民医院 may certify.
        aids = {**reg, "disease_code": "M02300", "sites": ["H44200000001"]}
        problem(await zs2.post("/v1/persons/P442000000002/special-disease-registrations", json=aids), 422,
                "certifier_not_allowed")
        ledger = (await ops.get("/v1/chronic-applications", params={"month": "2026-11"})).json()["items"]
        assert sorted(x["status"] for x in ledger) == ["pending", "refused"]
