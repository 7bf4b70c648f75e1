"""Regions, institutions, catalog items (single and bulk), with audit and nothing written on failure."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import problem


async def test_put_region_creates_then_replaces_and_audits(admin_client, db) -> None:
    r = await admin_client.put("/v1/regions/441900", json={"name": "东莞"})
    assert r.status_code == 201
    assert r.json()["code"] == "441900" and r.json()["name"] == "东莞"
    r = await admin_client.put("/v1/regions/441900", json={"name": "东莞市"})
    assert r.status_code == 200 and r.json()["name"] == "东莞市"
    rows = await db.fetch("SELECT action, target, detail, actor_key_id FROM audit_log ORDER BY audit_id")
    assert [(x["action"], x["target"]) for x in rows] == [("region.put", "region:441900")] * 2
    assert all(x["actor_key_id"] == admin_client.key_id for x in rows)
    assert (await admin_client.get("/v1/regions/441900")).json()["name"] == "东莞市"
    problem(await admin_client.get("/v1/regions/110100"), 404, "region_not_found")


async def test_region_validation(admin_client, db) -> None:
    problem(await admin_client.put("/v1/regions/4419001", json={"name": "x"}), 422, "validation_error")
    problem(await admin_client.put("/v1/regions/ABCDEF", json={"name": "x"}), 422, "validation_error")
    problem(await admin_client.put("/v1/regions/441900", json={"name": ""}), 422, "validation_error")
    problem(await admin_client.put("/v1/regions/441900", json={"name": "x", "extra": 1}), 422, "validation_error")
    assert await db.count("regions") == 0 and await db.count("audit_log") == 0


async def test_institution_kinds_and_levels(admin_client, institution_client, db) -> None:
    await admin_client.put("/v1/regions/441900", json={"name": "东莞市"})
    ok = [
        ("H44190000009", {"name": "h", "kind": "hospital", "level": 2, "region": "441900", "active": True}, 2),
        ("C44190000009", {"name": "c", "kind": "community", "region": "441900", "active": True}, 1),
        ("C44190000008", {"name": "c", "kind": "community", "level": 1, "region": "441900", "active": True}, 1),
        ("P44190000009", {"name": "p", "kind": "pharmacy", "region": "441900", "active": False}, None),
    ]
    for code, body, level in ok:
        r = await admin_client.put(f"/v1/institutions/{code}", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["level"] == level and r.json()["kind"] == body["kind"]
    bad = [
        {"name": "h", "kind": "hospital", "region": "441900", "active": True},
        {"name": "h", "kind": "hospital", "level": 4, "region": "441900", "active": True},
        {"name": "c", "kind": "community", "level": 2, "region": "441900", "active": True},
        {"name": "p", "kind": "pharmacy", "level": 1, "region": "441900", "active": True},
        {"name": "x", "kind": "clinic", "level": 1, "region": "441900", "active": True},
    ]
    before = await db.counts()
    for body in bad:
        problem(await admin_client.put("/v1/institutions/X1", json=body), 422, "validation_error")
    problem(
        await admin_client.put(
            "/v1/institutions/X1", json={"name": "h", "kind": "hospital", "level": 1, "region": "110100", "active": True}
        ),
        422,
        "unknown_region",
    )
    assert await db.counts() == before
    r = await institution_client.get("/v1/institutions/P44190000009")
    assert r.status_code == 200 and r.json()["active"] is False
    problem(await institution_client.get("/v1/institutions/NOPE"), 404, "institution_not_found")


ITEM = {
    "name": "吉非替尼片",
    "category": "B",
    "self_pay_ratio": "0.10",
    "price_cap": "2.5",
    "restriction": {"diagnoses": ["C34"], "min_level": 2, "med_types": ["21", "14"], "special_diseases": ["M00500"]},
}


async def test_catalog_item_put_and_get(admin_client, ops_client, db) -> None:
    r = await admin_client.put("/v1/catalogs/000000/items/XL01XEG001", json=ITEM)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["self_pay_ratio"] == "0.1000" and body["price_cap"] == "2.500000"
    assert body["restriction"] == ITEM["restriction"]
    row = await db.fetchrow("SELECT * FROM catalog_items")
    assert row["region"] == "000000" and row["price_cap"] == Decimal("2.5") and row["self_pay_ratio"] == Decimal("0.1")
    r = await admin_client.put("/v1/catalogs/000000/items/XL01XEG001", json={"name": "n", "category": "A"})
    assert r.status_code == 200 and r.json()["restriction"] is None and r.json()["price_cap"] is None
    got = await ops_client.get("/v1/catalogs/000000/items/XL01XEG001")
    assert got.json()["category"] == "A"
    problem(await ops_client.get("/v1/catalogs/000000/items/NOPE"), 404, "catalog_item_not_found")
    assert await db.count("audit_log", "action = 'catalog_item.put'") == 2


async def test_catalog_item_validation(admin_client, db) -> None:
    bad = [
        {**ITEM, "category": "D"},
        {**ITEM, "self_pay_ratio": "1.5"},
        {**ITEM, "self_pay_ratio": "0.12345"},
        {**ITEM, "category": "A"},  # self_pay_ratio only for B
        {**ITEM, "price_cap": "-1"},
        {**ITEM, "price_cap": "1.1234567"},
        {**ITEM, "restriction": {}},
        {**ITEM, "restriction": {"min_level": 4}},
        {**ITEM, "restriction": {"med_types": ["99"]}},
        {**ITEM, "restriction": {"unknown": 1}},
    ]
    for body in bad:
        problem(await admin_client.put("/v1/catalogs/000000/items/X1", json=body), 422, "validation_error")
    problem(await admin_client.put("/v1/catalogs/441900/items/X1", json=ITEM), 404, "region_not_found")
    assert await db.count("catalog_items") == 0 and await db.count("audit_log") == 0


async def test_catalog_price_cap_as_json_number_keeps_its_digits(admin_client, db) -> None:
    r = await admin_client.put(
        "/v1/catalogs/000000/items/X1", json={"name": "n", "category": "A", "price_cap": 123456.123456}
    )
    assert r.status_code == 201, r.text
    assert await db.fetchval("SELECT price_cap FROM catalog_items") == Decimal("123456.123456")
    # 16 significant digits: a binary float cannot hold this literal; the body is parsed
    # with parse_float=Decimal, so it arrives exact (no "send it as a string" refusal).
    r = await admin_client.put(
        "/v1/catalogs/000000/items/X2",
        content=b'{"name": "n", "category": "A", "price_cap": 1234567890.123456}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert await db.fetchval("SELECT price_cap FROM catalog_items WHERE code = 'X2'") == Decimal("1234567890.123456")


async def test_bulk_is_all_or_nothing(admin_client, db) -> None:
    await admin_client.put("/v1/regions/441900", json={"name": "东莞市"})
    items = [{"code": f"ITEM{i:03d}", "name": f"item {i}", "category": "A"} for i in range(50)]
    items[37] = {**items[37], "self_pay_ratio": "2"}  # one bad item
    before_audit = await db.count("audit_log")
    problem(await admin_client.post("/v1/catalogs/441900/items:bulk", json={"items": items}), 422, "validation_error")
    assert await db.count("catalog_items") == 0 and await db.count("audit_log") == before_audit

    dupes = [items[0], items[0]]
    problem(await admin_client.post("/v1/catalogs/441900/items:bulk", json={"items": dupes}), 422, "validation_error")
    problem(await admin_client.post("/v1/catalogs/441900/items:bulk", json={"items": []}), 422, "validation_error")

    items[37] = {"code": "ITEM037", "name": "item 37", "category": "B", "self_pay_ratio": "0.2"}
    r = await admin_client.post("/v1/catalogs/441900/items:bulk", json={"items": items})
    assert r.status_code == 200, r.text
    assert r.json() == {"region": "441900", "count": 50}
    assert await db.count("catalog_items", "region = '441900'") == 50
    assert await db.fetchval("SELECT self_pay_ratio FROM catalog_items WHERE code = 'ITEM037'") == Decimal("0.2")
    audit = await db.fetchrow("SELECT action, target, detail FROM audit_log WHERE action = 'catalog_items.bulk'")
    assert audit["target"] == "catalog:441900"

    # replaced as items, not as a catalog: a second bulk with one changed item keeps the others
    r = await admin_client.post(
        "/v1/catalogs/441900/items:bulk", json={"items": [{"code": "ITEM000", "name": "renamed", "category": "C"}]}
    )
    assert r.json()["count"] == 1
    assert await db.count("catalog_items") == 50
    assert await db.fetchval("SELECT name FROM catalog_items WHERE code = 'ITEM000'") == "renamed"
    problem(await admin_client.post("/v1/catalogs/510900/items:bulk", json={"items": items[:1]}), 404, "region_not_found")


async def test_reference_writes_bump_the_generation(app, admin_client) -> None:
    before = app.state.reference.value
    await admin_client.put("/v1/regions/441900", json={"name": "东莞市"})
    assert app.state.reference.value != before
