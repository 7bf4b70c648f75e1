"""异地就医备案 and 转诊转院备案 over HTTP: creation, reads, refusals."""

from __future__ import annotations

import pytest

from tests.helpers import problem
from tests.registrations.world import CLOSED_ZS, P1_ZS, add_person
from tests.world import C1, CLOSED, H1, H2, H3, H3_ZS, P1, encounter

pytestmark = pytest.mark.asyncio


def filing(region: str = "110000", **kw) -> dict:
    return {"region": region, "valid_from": "2026-01-01", "valid_to": "2026-12-31", "kind": "resident", **kw}


def referral(person_id: str, to: str, **kw) -> dict:
    return {"person_id": person_id, "to_institution": to, "valid_from": "2026-03-01", "valid_to": "2026-03-31", **kw}


async def test_filings_create_and_list(ops, admin_client, h3, world):
    await add_person(world, "F1")
    url = "/v1/persons/F1/cross-region-filings"
    r = await ops.post(url, json=filing("110000"))  # a province code: all of Beijing
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: body[k] for k in ("person_id", "region", "valid_from", "valid_to", "kind")} == {
        "person_id": "F1", "region": "110000", "valid_from": "2026-01-01", "valid_to": "2026-12-31", "kind": "resident"}
    assert body["filing_id"] and body["created_at"]
    r = await admin_client.post(url, json=filing("442000", kind="temporary", valid_from="2026-05-01",
                                                  valid_to="2026-05-31"))
    assert r.status_code == 201, r.text
    problem(await h3.get(url), 403, "credential_required")  # an institution needs the patient's certno
    items = (await h3.get(url, params={"certno": "11010519491231002X"})).json()["items"]
    assert [i["region"] for i in items] == ["110000", "442000"]
    items = (await ops.get(url, params={"date": "2026-06-01"})).json()["items"]
    assert [i["region"] for i in items] == ["110000"]
    assert await world.count("audit_log", "action = 'cross_region_filing.create'") == 2


async def test_filing_refusals(ops, h3, world):
    await add_person(world, "F2")
    url = "/v1/persons/F2/cross-region-filings"
    problem(await h3.post(url, json=filing()), 403, "forbidden")  # an institution does not file
    problem(await ops.post("/v1/persons/NOBODY/cross-region-filings", json=filing()), 404, "person_not_found")
    for bad in (
        filing("1100"), filing("11000A"), filing("000000"), filing(kind="forever"),
        filing(valid_from="2026-02-01", valid_to="2026-01-31"), {**filing(), "extra": 1},
        {k: v for k, v in filing().items() if k != "valid_to"},
    ):
        problem(await ops.post(url, json=bad), 422, "validation_error")
    problem(await ops.get("/v1/persons/NOBODY/cross-region-filings"), 404, "person_not_found")
    problem(await h3.get("/v1/persons/NOBODY/cross-region-filings"), 403, "credential_required")
    assert await world.count("cross_region_filings") == 0


DIRECTIONS = [
    (H3, H1, "downward"),  # level 3 → level 1
    (H3, C1, "downward"),  # community is level 1
    (C1, H2, "upward"),
    (H2, H3, "upward"),
    (H3, H3_ZS, "same"),  # another region, level 3
    (C1, H1, "same"),  # community and a level-1 hospital
]


async def test_referral_direction(inst, ops, world):
    await add_person(world, "R1")
    for origin, target, direction in DIRECTIONS:
        client = await inst(origin)
        r = await client.post("/v1/referrals", json=referral("R1", target))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["direction"] == direction, (origin, target)
        assert (body["from_institution"], body["to_institution"], body["person_id"]) == (origin, target, "R1")
        assert body["origin_settlement_id"] is None and body["consumed_by"] is None
        assert (body["valid_from"], body["valid_to"]) == ("2026-03-01", "2026-03-31")
        got = await ops.get(f"/v1/referrals/{body['referral_id']}")
        assert got.status_code == 200 and got.json() == body
    assert await world.count("audit_log", "action = 'referral.create'") == len(DIRECTIONS)


async def test_referral_refusals(h3, c1, p1, inst, world):
    await add_person(world, "R2")
    await add_person(world, "R3")
    for target in (P1, P1_ZS, CLOSED, CLOSED_ZS, "H99999999999", H3):
        problem(await h3.post("/v1/referrals", json=referral("R2", target)), 422, "referral_invalid")
    problem(await p1.post("/v1/referrals", json=referral("R2", H3)), 422, "referral_invalid")  # pharmacy refers
    closed = await inst(CLOSED)
    problem(await closed.post("/v1/referrals", json=referral("R2", H1)), 403, "institution_inactive")  # auth
    problem(await h3.post("/v1/referrals", json=referral("NOBODY", H1)), 404, "person_not_found")
    problem(await h3.post("/v1/referrals", json=referral("R2", H1, valid_from="2026-04-01")), 422, "validation_error")
    problem(await h3.post("/v1/referrals", json=referral("R2", H1, extra=True)), 422, "validation_error")

    # origin_settlement_id: unknown; another institution's; another person's; reversed
    unknown = "00000000-0000-4000-8000-000000000000"
    problem(await h3.post("/v1/referrals", json=referral("R2", H1, origin_settlement_id=unknown)),
            422, "referral_invalid")
    r = await c1.post("/v1/settlements", json=encounter("R2", [("DRUG_A", "1", "100.00")], date="2026-03-01"),
                      headers={"Idempotency-Key": "o-1"})
    assert r.status_code == 201, r.text
    at_c1 = r.json()["settlement_id"]
    problem(await h3.post("/v1/referrals", json=referral("R2", H1, origin_settlement_id=at_c1)),
            422, "referral_invalid")
    problem(await c1.post("/v1/referrals", json=referral("R3", H3, origin_settlement_id=at_c1)),
            422, "referral_invalid")
    assert (await c1.post(f"/v1/settlements/{at_c1}/reversal")).status_code == 201
    problem(await c1.post("/v1/referrals", json=referral("R2", H3, origin_settlement_id=at_c1)),
            422, "referral_invalid")
    assert await world.count("referrals") == 0


async def test_referral_visibility(h3, h1, h2, ops, world):
    await add_person(world, "R4")
    ref = (await h3.post("/v1/referrals", json=referral("R4", H1))).json()
    for client in (h3, h1, ops):
        assert (await client.get(f"/v1/referrals/{ref['referral_id']}")).status_code == 200
    problem(await h2.get(f"/v1/referrals/{ref['referral_id']}"), 404, "referral_not_found")
    problem(await ops.get("/v1/referrals/00000000-0000-4000-8000-000000000000"), 404, "referral_not_found")
    problem(await ops.post("/v1/referrals", json=referral("R4", H1)), 403, "forbidden")
    problem(await ops.get("/v1/referrals/not-a-uuid"), 422, "validation_error")
