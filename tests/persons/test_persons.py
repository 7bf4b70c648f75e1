"""Persons: certno checksum, enrollments as a set, views by role and date, accumulators."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.persons.certno import check_digit, is_valid, mask
from tests.helpers import problem

# Check digit worked by hand: 11010519491231002 → Σ dᵢ·wᵢ = 167, 167 mod 11 = 2 → 'X'.
CERTNO = "11010519491231002X"


def test_check_digit_by_hand() -> None:
    assert check_digit("11010519491231002") == "X"
    assert is_valid(CERTNO)
    assert not is_valid("110105194912310021")  # wrong check digit
    assert not is_valid("11010519491231002x")  # lower-case x
    assert not is_valid("1101051949123100")  # too short
    assert not is_valid("A1010519491231002X")
    assert mask(CERTNO) == "110105********002X"


PERSON = {
    "certno": CERTNO,
    "name": "张三",
    "gender": "1",
    "birth_date": "1949-12-31",
    "insured_region": "441900",
    "enrollments": [
        {"insutype": "310", "valid_from": "2020-01-01", "valid_to": "2025-12-31"},
        {"insutype": "390", "valid_from": "2026-01-01"},
    ],
    "retired": True,
    "supplementary": False,
    "aid_category": "low_income",
    "account_balance": "1234.5",
}


@pytest.fixture
async def region(admin_client) -> None:
    r = await admin_client.put("/v1/regions/441900", json={"name": "东莞市"})
    assert r.status_code == 201


async def test_put_person_and_replace_enrollments(admin_client, region, db) -> None:
    r = await admin_client.put("/v1/persons/P1", json=PERSON)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["gender"] == "male" and body["account_balance"] == "1234.50" and body["certno"] == CERTNO
    assert [e["insutype"] for e in body["enrollments"]] == ["310", "390"]
    r = await admin_client.put(
        "/v1/persons/P1", json={**PERSON, "enrollments": [{"insutype": "390", "valid_from": "2026-03-01"}]}
    )
    assert r.status_code == 200
    assert [(e["insutype"], e["valid_from"]) for e in r.json()["enrollments"]] == [("390", "2026-03-01")]
    assert await db.count("enrollments") == 1
    audit = await db.fetch("SELECT action, target, detail::text AS detail FROM audit_log WHERE action = 'person.put' ORDER BY audit_id")
    assert [(a["action"], a["target"]) for a in audit] == [("person.put", "person:P1")] * 2
    for a in audit:  # no personal data in the audit detail
        assert "张三" not in a["detail"] and CERTNO not in a["detail"] and "1234" not in a["detail"]


@pytest.mark.parametrize("certno", ["110105194912310021", "11010519491231002", "11010519491231002x", "ABC"])
async def test_invalid_certno(admin_client, region, db, certno) -> None:
    body = problem(await admin_client.put("/v1/persons/P1", json={**PERSON, "certno": certno}), 422, "invalid_certno")
    assert body["errors"] == [{"loc": ["body", "certno"], "msg": "invalid ID number"}]
    assert certno not in str(body)
    assert await db.count("persons") == 0 and await db.count("audit_log", "action = 'person.put'") == 0


@pytest.mark.parametrize(
    "change",
    [
        {"account_balance": "-0.01"},
        {"account_balance": "1.001"},
        {"aid_category": "rich"},
        {"gender": "3"},
        {"insured_region": "4419"},
        {"enrollments": [{"insutype": "320", "valid_from": "2026-01-01"}]},
        {"enrollments": [{"insutype": "390", "valid_from": "2026-01-01", "valid_to": "2025-01-01"}]},
        {"enrollments": [{"insutype": "390", "valid_from": "2026-01-01"}, {"insutype": "390", "valid_from": "2026-06-01"}]},
    ],
)
async def test_person_validation_writes_nothing(admin_client, region, db, change) -> None:
    problem(await admin_client.put("/v1/persons/P1", json={**PERSON, **change}), 422, "validation_error")
    assert await db.count("persons") == 0 and await db.count("enrollments") == 0


async def test_unknown_insured_region(admin_client, db) -> None:
    problem(await admin_client.put("/v1/persons/P1", json=PERSON), 422, "unknown_region")


async def _arrange_registrations(db) -> None:
    await db.execute(
        "INSERT INTO special_disease_registrations (registration_id, person_id, disease_code, certifier_code,"
        " valid_from, valid_to, all_sites, sites) VALUES"
        " (gen_random_uuid(), 'P1', 'M03900', 'H44190000001', '2026-01-01', '2026-12-31', false, '{C44190000001}'),"
        " (gen_random_uuid(), 'P1', 'M01600', 'H44190000001', '2025-01-01', '2025-12-31', true, '{}')"
    )
    await db.execute(
        "INSERT INTO cross_region_filings (filing_id, person_id, region, valid_from, valid_to, kind) VALUES"
        " (gen_random_uuid(), 'P1', '442000', '2026-02-01', '2026-02-28', 'temporary'),"
        " (gen_random_uuid(), 'P1', '110100', '2026-01-01', NULL, 'resident')"
    )


async def test_get_person_views(admin_client, ops_client, make_client, region, db) -> None:
    await admin_client.put("/v1/persons/P1", json=PERSON)
    await _arrange_registrations(db)
    inst = await make_client("institution", "H44190000001")

    full = (await ops_client.get("/v1/persons/P1", params={"date": "2026-02-10"})).json()
    assert full["certno"] == CERTNO and full["account_balance"] == "1234.50" and full["as_of"] == "2026-02-10"
    assert [e["insutype"] for e in full["enrollments"]] == ["390"]
    assert [r["disease_code"] for r in full["registrations"]] == ["M03900"]
    assert full["registrations"][0]["sites"] == ["C44190000001"]
    assert sorted(f["region"] for f in full["filings"]) == ["110100", "442000"]

    # An institution reads a person only with the certno the patient presents (api.md).
    problem(await inst.get("/v1/persons/P1", params={"date": "2025-06-01"}), 403, "credential_required")
    masked = (await inst.get("/v1/persons/P1", params={"date": "2025-06-01", "certno": CERTNO})).json()
    assert masked["certno"] == "110105********002X" and masked["account_balance"] is None
    assert [e["insutype"] for e in masked["enrollments"]] == ["310"]
    assert [r["disease_code"] for r in masked["registrations"]] == ["M01600"]
    assert masked["filings"] == []
    assert CERTNO not in (await inst.get("/v1/persons/P1", params={"certno": CERTNO})).text

    admin_view = await admin_client.get("/v1/persons/P1")
    assert admin_view.status_code == 200 and admin_view.json()["certno"] == CERTNO
    problem(await ops_client.get("/v1/persons/P2"), 404, "person_not_found")
    wallet = await make_client("wallet")
    problem(await wallet.get("/v1/persons/P1"), 403, "forbidden")
    problem(await inst.put("/v1/persons/P1", json=PERSON), 403, "forbidden")


async def test_accumulators(admin_client, ops_client, make_client, region, db) -> None:
    await admin_client.put("/v1/persons/P1", json=PERSON)
    r = await ops_client.get("/v1/persons/P1/accumulators", params={"year": 2026})
    assert r.json() == {
        "person_id": "P1", "year": 2026, "basic_paid": "0.00", "deductible": {}, "limit": {}, "disease": {},
        "ci_base": "0.00", "ci_paid": "0.00", "aid_base": "0.00", "aid_paid": "0.00", "sa_base": "0.00",
        "sa_paid": "0.00", "account_balance": "1234.50", "tier": None,
    }  # fmt: skip
    await db.execute(
        "INSERT INTO accumulators (person_id, year, name, amount) VALUES"
        " ('P1', 2026, 'basic_paid', 13937), ('P1', 2026, 'deductible:outpatient', 100),"
        " ('P1', 2026, 'limit:general_outpatient', 0), ('P1', 2026, 'disease:M03900', 12.3),"
        " ('P1', 2026, 'ci_base', 6973), ('P1', 2026, 'sa_paid', 0.5), ('P1', 2025, 'basic_paid', 99)"
    )
    inst = await make_client("institution", "H44190000001")
    problem(await inst.get("/v1/persons/P1/accumulators", params={"year": 2026}), 403, "credential_required")
    body = (await inst.get("/v1/persons/P1/accumulators", params={"year": 2026, "certno": CERTNO})).json()
    assert body["basic_paid"] == "13937.00" and body["ci_base"] == "6973.00" and body["sa_paid"] == "0.50"
    assert body["deductible"] == {"outpatient": "100.00"}
    assert body["limit"] == {"general_outpatient": "0.00"}
    assert body["disease"] == {"M03900": "12.30"}
    assert body["aid_paid"] == "0.00"
    r = await inst.get("/v1/persons/P1/accumulators", params={"year": 2025, "certno": CERTNO})
    assert r.json()["basic_paid"] == "99.00"
    problem(await ops_client.get("/v1/persons/P9/accumulators"), 404, "person_not_found")
    # for an institution an unknown person is indistinguishable from a wrong certno
    problem(await inst.get("/v1/persons/P9/accumulators", params={"certno": CERTNO}), 403, "credential_required")
    r = await inst.get("/v1/persons/P1/accumulators", params={"year": 1999, "certno": CERTNO})
    problem(r, 422, "validation_error")


async def test_money_as_json_number_is_exact(admin_client, region, db) -> None:
    r = await admin_client.put("/v1/persons/P1", json={**PERSON, "account_balance": 1234567890.12})
    assert r.status_code == 201 and r.json()["account_balance"] == "1234567890.12"
    assert await db.fetchval("SELECT account_balance FROM persons") == Decimal("1234567890.12")
