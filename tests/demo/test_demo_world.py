"""The demo world: idempotent, complete, valid."""

from __future__ import annotations

import json

from app.demo.policies import DONGGUAN_390
from app.demo.world import load_demo
from app.persons.certno import is_valid
from tests.helpers import make_asgi_client


async def _load(app, persons: int = 0) -> dict:
    async with app.state.engine.begin() as conn:
        return await load_demo(conn, persons=persons)


async def test_loading_twice_changes_nothing(app, db) -> None:
    keys = await _load(app, persons=30)
    counts = await db.counts()
    snapshot = await db.fetch("SELECT person_id, certno, account_balance, updated_at FROM persons ORDER BY 1")
    assert await _load(app, persons=30) == keys
    assert await db.counts() == counts
    assert await db.fetch("SELECT person_id, certno, account_balance, updated_at FROM persons ORDER BY 1") == snapshot
    assert counts["persons"] == 29 + 30  # 9 per region, and 2 more registered poor in Suining (tiers)


async def test_demo_world_contents(app, demo_world, db) -> None:
    regions = {r["code"] for r in await db.fetch("SELECT code FROM regions")}
    assert {"441900", "442000", "510900", "440000", "510000", "110100"} <= regions
    levels = {(r["region"], r["kind"], r["level"]) for r in await db.fetch("SELECT region, kind, level FROM institutions")}
    for region in ("441900", "442000", "510900"):
        for kind_level in (("hospital", 1), ("hospital", 2), ("hospital", 3), ("community", 1), ("pharmacy", None)):
            assert (region, *kind_level) in levels
    cats = {r["category"] for r in await db.fetch("SELECT category FROM catalog_items")}
    assert cats == {"A", "B", "C"}
    restrictions = [json.loads(r["restriction"]) for r in await db.fetch(
        "SELECT restriction FROM catalog_items WHERE restriction IS NOT NULL")]  # fmt: skip
    for kind in ("med_types", "diagnoses", "special_diseases", "min_level"):
        assert any(kind in r for r in restrictions), kind
    assert await db.count("catalog_items", "region = '441900'") > 0
    assert await db.count("catalog_items", "region = '440000'") > 0
    assert await db.count("catalog_items", "price_cap IS NOT NULL") > 0

    stored = json.loads(await db.fetchval(
        "SELECT document FROM policies WHERE region = '441900' AND insutype = '390' AND effective_from = '2026-01-01'"))  # fmt: skip
    for got, want in zip(stored["basic"]["rules"], DONGGUAN_390["basic"]["rules"], strict=True):
        assert {k: v for k, v in got.items() if v is not None} == want
    assert stored["secondary_aid"]["categories"]["low_income"]["scopes"] == ["inpatient", "special_outpatient"]
    docs = {(r["region"], r["insutype"]): json.loads(r["document"]) for r in await db.fetch("SELECT * FROM policies")}
    assert docs[("441900", "310")]["basic"]["retired_bonus"] == "0.10"
    assert docs[("441900", "310")]["critical_illness"] is not None
    assert docs[("442000", "390")]["special_disease_sites"]["max_sites"] == 1
    assert docs[("442000", "310")]["special_disease_sites"] == {
        "max_sites": 3, "require_community": True, "all_sites_if_supplementary": False}  # fmt: skip
    assert docs[("510900", "390")]["basic"]["downward_referral_bonus"] == "0.05"
    assert docs[("510900", "390")]["fallback"]["max_personal_share"] == "0.10"
    assert all(d["cross_region"] is not None for d in docs.values())

    people = await db.fetch("SELECT certno, aid_category, retired, account_balance, insured_region FROM persons")
    assert all(is_valid(p["certno"]) for p in people)
    for region in ("441900", "442000", "510900"):
        mine = [p for p in people if p["insured_region"] == region]
        assert {p["aid_category"] for p in mine} == {None, "extreme_poverty", "minimum_living", "registered_poor", "low_income"}
        assert any(p["retired"] and p["account_balance"] > 0 for p in mine)
        assert any(not p["retired"] and p["account_balance"] > 0 for p in mine)
    assert await db.count("enrollments", "insutype = '310'") > 0 and await db.count("enrollments", "insutype = '390'") > 0


async def test_demo_keys_work(app, db, demo_world) -> None:
    assert {"admin", "ops", "wallet", "institution:H44190000001"} <= set(demo_world)
    certno = await db.fetchval("SELECT certno FROM persons WHERE person_id = 'P441900000001'")
    async with make_asgi_client(app, demo_world["institution:H44190000001"]) as inst:
        # An institution reads a person only with the credential the patient presents.
        assert (await inst.get("/v1/persons/P441900000001")).status_code == 403
        # an institution reads a person with the certno the patient presents (api.md)
        r = await inst.post("/v1/persons/lookup", json={"certno": certno})
        assert r.status_code == 200 and r.json()["person_id"] == "P441900000001"
        r = await inst.get("/v1/persons/P441900000001", params={"certno": certno})
        assert r.status_code == 200 and "*" in r.json()["certno"]
    async with make_asgi_client(app, demo_world["admin"]) as admin:
        r = await admin.get("/v1/policies/441900/390", params={"date": "2026-03-10"})
        assert r.status_code == 200 and r.json()["document"]["name"] == DONGGUAN_390["name"]


async def test_ten_thousand_synthetic_persons_load_fast(app, db) -> None:
    import time

    start = time.perf_counter()
    await _load(app, persons=10_000)
    assert time.perf_counter() - start < 10
    assert await db.count("persons", "person_id LIKE 'S%'") == 10_000
    assert await db.count("enrollments", "person_id LIKE 'S%'") == 10_000
