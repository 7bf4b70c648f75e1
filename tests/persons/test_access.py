"""Who may read what (api.md, "Persons and registrations"; issue 13, item 4).

* a key of an inactive institution is refused on every endpoint (403 institution_inactive);
* an institution reads a person only with the credential the patient presents: POST
  /v1/persons/lookup with a certno or an e-voucher code, or ?certno= matching on the reads
  by id — never by person_id alone (403 credential_required);
* every person read by an institution is audit-logged (key, institution, person, time).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import problem
from tests.world import CLOSED, H3, add_person, encounter, load_world

CERTNO = "11010519491231002X"  # tests.world.add_person's


@pytest.fixture
async def world(db):
    await load_world(db)
    await add_person(db, "P001", balance="321.50")
    return db


@pytest.fixture
async def hospital(world, make_client):
    return await make_client("institution", H3)


async def person_reads(db) -> list[dict]:
    rows = await db.fetch(
        "SELECT actor_key_id, target, detail, at FROM audit_log WHERE action = 'person.read' ORDER BY audit_id"
    )
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]


# ------------------------------------------------------------------------- inactive institutions


async def test_inactive_institution_key_is_refused_on_every_endpoint(app, world, make_client):
    closed = await make_client("institution", CLOSED)
    spec = app.openapi()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if not op.get("security"):
                continue  # /healthz, /readyz, /metrics, docs: no key at all
            url = re.sub(r"\{[^}]+\}", "x1", path)
            # No body, no headers, bad path values: auth answers before any of them is looked at.
            r = await closed.request(method.upper(), url)
            problem(r, 403, "institution_inactive")
            checked += 1
    assert checked >= 20
    # before any other check: an unreadable, oversized or deeply nested body is not looked at
    for content in (b"{not json", b" " * (2 * 1024 * 1024), b"[" * 100_000):
        for url in ("/v1/settlements", "/v1/settlements/preview", "/v1/persons/lookup", "/v1/referrals"):
            r = await closed.post(url, content=content, headers={"content-type": "application/json"})
            problem(r, 403, "institution_inactive")
    problem(await closed.get("/v1/settlements", params={"limit": "many"}), 403, "institution_inactive")


async def test_deactivation_takes_effect_at_once(admin_client, hospital, world):
    assert (await hospital.get("/v1/settlements")).status_code == 200  # the key is now cached
    body = {"name": "x", "kind": "hospital", "level": 3, "region": "441900", "active": False}
    assert (await admin_client.put(f"/v1/institutions/{H3}", json=body)).status_code == 200
    problem(await hospital.get("/v1/settlements"), 403, "institution_inactive")
    r = await hospital.post("/v1/settlements", json=encounter("P001", [("DRUG_A", "1", "1")]),
                            headers={"Idempotency-Key": "k"})
    problem(r, 403, "institution_inactive")
    assert (await admin_client.put(f"/v1/institutions/{H3}", json={**body, "active": True})).status_code == 200
    assert (await hospital.get("/v1/settlements")).status_code == 200


# ------------------------------------------------------------------------------------- lookup


async def test_lookup_by_certno(hospital, ops_client, world):
    r = await hospital.post("/v1/persons/lookup", json={"certno": CERTNO})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["person_id"] == "P001"
    assert view["account_balance"] == "321.50"  # the patient presented the credential
    assert view["certno"] == "110105********002X"  # still masked for institutions
    assert [e["insutype"] for e in view["enrollments"]] == ["390"]
    # the check digit typed as a lower-case x is the same credential
    assert (await hospital.post("/v1/persons/lookup", json={"certno": CERTNO.lower()})).status_code == 200
    problem(await hospital.post("/v1/persons/lookup", json={"certno": "110105194912310011"}), 404, "person_not_found")
    rows = await person_reads(world)
    assert len(rows) == 2  # two successful lookups by the institution; the 404 wrote nothing
    assert rows[0]["actor_key_id"] == hospital.key_id and rows[0]["target"] == "person:P001"
    assert rows[0]["detail"] == {"institution_code": H3, "read": "lookup", "via": "certno"}
    assert rows[0]["at"] is not None
    assert CERTNO not in str(rows[0]["detail"])  # the credential itself is not logged
    # ops may look up too; that is not an institution read
    r = await ops_client.post("/v1/persons/lookup", json={"certno": CERTNO})
    assert r.status_code == 200 and r.json()["certno"] == CERTNO
    assert len(await person_reads(world)) == 2


async def test_lookup_by_e_voucher_does_not_consume_it(hospital, wallet_client, world):
    code = (await wallet_client.post("/v1/e-vouchers", json={"person_id": "P001"})).json()["code"]
    for _ in range(2):
        r = await hospital.post("/v1/persons/lookup", json={"e_voucher_code": code})
        assert r.status_code == 200, r.text
        assert r.json()["person_id"] == "P001" and r.json()["account_balance"] == "321.50"
    assert [row["detail"]["via"] for row in await person_reads(world)] == ["e_voucher", "e_voucher"]
    # The code still settles, once.
    body = encounter(None, [("DRUG_A", "1", "10.00")], med_type="11", e_voucher_code=code)
    r = await hospital.post("/v1/settlements", json=body, headers={"Idempotency-Key": "ev"})
    assert r.status_code == 201, r.text
    problem(await hospital.post("/v1/persons/lookup", json={"e_voucher_code": code}), 422, "e_voucher_used")
    problem(await hospital.post("/v1/persons/lookup", json={"e_voucher_code": "ev_" + "A" * 43}), 422,
            "e_voucher_invalid")


async def test_lookup_needs_exactly_one_credential(hospital, wallet_client, world):
    for body in ({}, {"certno": CERTNO, "e_voucher_code": "ev_x"}, {"certno": ""}, {"person_id": "P001"}):
        problem(await hospital.post("/v1/persons/lookup", json=body), 422, "validation_error")
    problem(await wallet_client.post("/v1/persons/lookup", json={"certno": CERTNO}), 403, "forbidden")


# ------------------------------------------------------------------------------ reads by id


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/v1/persons/P001", "person"),
        ("/v1/persons/P001/accumulators", "accumulators"),
        ("/v1/persons/P001/special-disease-registrations", "special_disease_registrations"),
        ("/v1/persons/P001/cross-region-filings", "cross_region_filings"),
    ],
)
async def test_reads_by_id_need_the_matching_certno(hospital, ops_client, world, path, what):
    problem(await hospital.get(path), 403, "credential_required")  # person_id alone
    problem(await hospital.get(path, params={"certno": "110105194912310011"}), 403, "credential_required")
    nobody = path.replace("P001", "NOBODY")
    problem(await hospital.get(nobody, params={"certno": CERTNO}), 403, "credential_required")  # no probing ids
    assert await person_reads(world) == []

    r = await hospital.get(path, params={"certno": CERTNO})
    assert r.status_code == 200, r.text
    rows = await person_reads(world)
    assert len(rows) == 1
    assert rows[0]["actor_key_id"] == hospital.key_id and rows[0]["target"] == "person:P001"
    assert rows[0]["detail"] == {"institution_code": H3, "read": what, "via": "certno"}

    # ops reads by id alone, and is not audit-logged as an institution read
    assert (await ops_client.get(path)).status_code == 200
    assert len(await person_reads(world)) == 1
    problem(await ops_client.get(nobody), 404, "person_not_found")


async def test_person_view_by_id_hides_the_balance_from_institutions(hospital, world):
    view = (await hospital.get("/v1/persons/P001", params={"certno": CERTNO})).json()
    assert view["account_balance"] is None and view["certno"] == "110105********002X"
