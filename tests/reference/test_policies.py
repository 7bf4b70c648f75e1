"""Policy documents: validation of every rule, versions by date, in-use immutability, revisions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.demo.policies import DONGGUAN_390
from tests.helpers import problem

URL = "/v1/policies/441900/390/2026-01-01"


def doc(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(DONGGUAN_390)
    d.update(changes)
    return d


def with_rule(index: int, **changes: Any) -> dict[str, Any]:
    d = doc()
    d["basic"]["rules"][index].update(changes)
    return d


async def test_put_full_policy_md_document_and_get_it(admin_client, institution_client, db) -> None:
    r = await admin_client.put(URL, json=DONGGUAN_390)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["region"], body["insutype"], body["effective_from"], body["revision"], body["in_use"]) == (
        "441900", "390", "2026-01-01", 1, False,
    )  # fmt: skip
    stored = await db.fetchval("SELECT document FROM policies")
    import json

    stored = json.loads(stored)
    assert stored["basic"]["rules"][0]["ratio"] == "0.70"
    assert stored["critical_illness"]["segments"][1] == {"up_to": None, "ratio": "0.70"}
    assert stored["special_diseases"]["M00500"]["class"] == 1
    assert stored["fallback"] is None
    r = await institution_client.get("/v1/policies/441900/390", params={"date": "2026-03-10"})
    assert r.status_code == 200
    assert r.json()["document"]["medical_aid"]["categories"]["low_income"]["threshold"] == "1000"
    audit = await db.fetch("SELECT action, target, detail FROM audit_log")
    assert [(a["action"], a["target"]) for a in audit] == [("policy.put", "policy:441900/390/2026-01-01")]


async def test_path_fills_in_and_must_match(admin_client, db) -> None:
    d = doc()
    for key in ("region", "insutype", "effective_from"):
        del d[key]
    r = await admin_client.put(URL, json=d)
    assert r.status_code == 201
    assert r.json()["document"]["region"] == "441900" and r.json()["document"]["effective_from"] == "2026-01-01"
    body = problem(await admin_client.put("/v1/policies/442000/390/2026-01-01", json=DONGGUAN_390), 422, "policy_invalid")
    assert body["errors"] == [{"loc": ["body", "region"], "msg": "does not match the path (region in the URL)"}]
    body = problem(await admin_client.put("/v1/policies/441900/390/2026-02-01", json=DONGGUAN_390), 422, "policy_invalid")
    assert body["errors"][0]["loc"] == ["body", "effective_from"]
    assert await db.count("policies") == 1


INVALID = [
    pytest.param(with_rule(0, ratio="1.01"), ["body", "basic", "rules", 0, "ratio"], id="ratio>1"),
    pytest.param(with_rule(0, ratio="-0.1"), ["body", "basic", "rules", 0, "ratio"], id="ratio<0"),
    pytest.param(with_rule(0, deductible="1000.005"), ["body", "basic", "rules", 0, "deductible"], id="3 decimals"),
    pytest.param(with_rule(0, deductible="-1"), ["body", "basic", "rules", 0, "deductible"], id="negative amount"),
    pytest.param(with_rule(0, deductible=1000.5), None, id="number ok"),
    pytest.param(with_rule(0, med_type="31"), ["body", "basic", "rules", 0, "med_type"], id="med_type"),
    pytest.param(with_rule(0, level=4), ["body", "basic", "rules", 0, "level"], id="level 4"),
    pytest.param(with_rule(0, deductible_scope="yearly"), ["body", "basic", "rules", 0, "deductible_scope"], id="scope"),
    pytest.param(with_rule(4, deductible_group=None), ["body", "basic", "rules", 4], id="annual without group"),
    pytest.param(with_rule(3, limit_group=None), ["body", "basic", "rules", 3], id="limit without group"),
    pytest.param(with_rule(0, kind="pharmacy"), ["body", "basic", "rules", 0], id="pharmacy with level"),
    pytest.param(with_rule(0, colour="red"), ["body", "basic", "rules", 0, "colour"], id="extra field"),
    pytest.param(doc(surprise=1), ["body", "surprise"], id="extra top-level"),
    pytest.param(doc(insutype="320"), ["body", "insutype"], id="insutype"),
    pytest.param(doc(name=None), ["body", "name"], id="name"),
    pytest.param(
        doc(critical_illness={**DONGGUAN_390["critical_illness"],
                              "segments": [{"up_to": "100000", "ratio": "0.6"}, {"up_to": "50000", "ratio": "0.7"}]}),
        ["body", "critical_illness"], id="segments unordered",
    ),
    pytest.param(
        doc(critical_illness={**DONGGUAN_390["critical_illness"],
                              "segments": [{"up_to": None, "ratio": "0.6"}, {"up_to": "50000", "ratio": "0.7"}]}),
        ["body", "critical_illness"], id="null segment not last",
    ),
    pytest.param(
        doc(critical_illness={**DONGGUAN_390["critical_illness"],
                              "tilt": {**DONGGUAN_390["critical_illness"]["tilt"], "categories": ["rich"]}}),
        ["body", "critical_illness", "tilt", "categories", 0], id="tilt category",
    ),
    pytest.param(
        doc(cross_region={"filed_ratio_delta": "0", "unfiled": "ignore", "cross_province_outpatient": True}),
        ["body", "cross_region", "unfiled"], id="unfiled value",
    ),
    pytest.param(
        doc(cross_region={"filed_ratio_delta": "0", "unfiled": "ratio_delta", "cross_province_outpatient": True}),
        ["body", "cross_region"], id="ratio_delta without delta",
    ),
    pytest.param(
        doc(medical_aid={"med_types": ["21"], "categories": {"veterans": {"threshold": "0", "ratio": "1"}}}),
        ["body", "medical_aid", "categories", "veterans", "[key]"], id="aid category",
    ),
    pytest.param(
        doc(secondary_aid={"annual_cap": "1", "categories": {"low_income": {"threshold": "0", "ratio": "0.5",
                                                                           "scopes": ["dental"]}}}),
        ["body", "secondary_aid", "categories", "low_income", "scopes", 0], id="secondary scope",
    ),
    pytest.param(
        doc(fallback={"categories": ["registered_poor"], "med_types": ["21"], "max_personal_share": "1.1",
                      "same_region_only": True}),
        ["body", "fallback", "max_personal_share"], id="fallback share",
    ),
    pytest.param(
        doc(special_diseases={"M03900": {"name": "高血压", "class": 3}}),
        ["body", "special_diseases", "M03900", "class"], id="disease class",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("document", "loc"), INVALID)
async def test_policy_validation(admin_client, db, document, loc) -> None:
    r = await admin_client.put(URL, json=document)
    if loc is None:
        assert r.status_code == 201, r.text
        return
    body = problem(r, 422, "policy_invalid")
    assert loc in [e["loc"] for e in body["errors"]], body["errors"]
    assert await db.count("policies") == 0 and await db.count("audit_log") == 0


async def test_ambiguous_rules_are_refused(admin_client, db) -> None:
    d = doc()
    # "21 at level 1" and "21 at a hospital" both name one field: equally specific for a level-1 hospital.
    d["basic"]["rules"].append({"med_type": "21", "kind": "hospital", "ratio": "0.5", "deductible": "0",
                                "deductible_scope": "per_encounter"})  # fmt: skip
    body = problem(await admin_client.put(URL, json=d), 422, "policy_invalid")
    assert body["errors"] == [
        {"loc": ["body", "basic", "rules", 6], "msg": "equally specific as rule 2 for med_type 21 at a hospital level 1: ambiguous"}
    ]
    d = doc()
    d["basic"]["rules"].append(copy.deepcopy(d["basic"]["rules"][4]))  # a duplicate
    body = problem(await admin_client.put(URL, json=d), 422, "policy_invalid")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "basic", "rules", 6)}
    # a more specific rule next to a general one is fine
    d = doc()
    d["basic"]["rules"].append({"med_type": "14", "kind": "community", "ratio": "0.8", "deductible": "0",
                                "deductible_scope": "annual", "deductible_group": "special"})  # fmt: skip
    assert (await admin_client.put(URL, json=d)).status_code == 201


async def test_absent_and_null_blocks_are_allowed(admin_client) -> None:
    d = doc(critical_illness=None, medical_aid=None, secondary_aid=None, special_disease_sites=None)
    del d["special_diseases"], d["cross_region"], d["fallback"]
    r = await admin_client.put(URL, json=d)
    assert r.status_code == 201, r.text
    assert r.json()["document"]["critical_illness"] is None


async def test_versions_by_date(admin_client, ops_client, db) -> None:
    assert (await admin_client.put(URL, json=DONGGUAN_390)).status_code == 201
    later = doc(effective_from="2026-07-01", name="v2")
    assert (await admin_client.put("/v1/policies/441900/390/2026-07-01", json=later)).status_code == 201
    get = lambda date: ops_client.get("/v1/policies/441900/390", params={"date": date})  # noqa: E731
    assert (await get("2026-01-01")).json()["effective_from"] == "2026-01-01"
    assert (await get("2026-06-30")).json()["effective_from"] == "2026-01-01"
    assert (await get("2026-07-01")).json()["document"]["name"] == "v2"
    assert (await get("2027-01-01")).json()["effective_from"] == "2026-07-01"
    problem(await get("2025-12-31"), 404, "policy_not_found")
    problem(await ops_client.get("/v1/policies/441900/310", params={"date": "2026-03-01"}), 404, "policy_not_found")
    problem(await ops_client.get("/v1/policies/441900/390", params={"date": "2026-13-01"}), 422, "validation_error")
    assert (await ops_client.get("/v1/policies/441900/390")).status_code == 200  # today


async def test_replace_bumps_revision_until_in_use(admin_client, db) -> None:
    assert (await admin_client.put(URL, json=DONGGUAN_390)).json()["revision"] == 1
    r = await admin_client.put(URL, json=doc(name="fixed typo"))
    assert r.status_code == 200 and r.json()["revision"] == 2 and r.json()["document"]["name"] == "fixed typo"
    await db.execute("UPDATE policies SET in_use = true")
    body = problem(await admin_client.put(URL, json=doc(name="too late")), 409, "policy_in_use")
    assert "441900/390/2026-01-01" in body["detail"]
    row = await db.fetchrow("SELECT revision, document->>'name' AS name FROM policies")
    assert (row["revision"], row["name"]) == (2, "fixed typo")
    assert await db.count("audit_log") == 2


async def test_policy_roles(make_client, db) -> None:
    for role in ("ops", "institution", "wallet"):
        c = await make_client(role)
        problem(await c.put(URL, json=DONGGUAN_390), 403, "forbidden")
    wallet = await make_client("wallet")
    problem(await wallet.get("/v1/policies/441900/390"), 403, "forbidden")


async def test_non_object_document(admin_client) -> None:
    problem(await admin_client.put(URL, json=[1, 2]), 422, "policy_invalid")
