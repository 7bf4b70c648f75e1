"""Every settlement body the service serves — preview, settled, replayed, read, reversed,
listed — is exactly what `SettlementOut` (and `SettlementList`) documents: it validates,
and dumping the validated model gives back the very same document (no key more, none
less, no value changed). The body is rendered once (app.settlement.rendering) and stored;
this guards the stored text against drifting from the published contract."""

from __future__ import annotations

import json

import pytest

from app.settlement.schemas import SettlementList, SettlementOut
from tests.world import add_person, encounter

pytestmark = pytest.mark.asyncio


def _exactly(model: type, body: bytes) -> dict:
    served = json.loads(body)
    validated = model.model_validate_json(body)
    assert validated.model_dump(mode="json") == served
    return served


async def test_every_served_settlement_body_is_the_documented_model(hospital, pharmacy, world):
    await add_person(world, "P001")
    await add_person(world, "EMP", insutype="310", balance="250.00")
    inpatient = encounter("P001", [("DRUG_A", "30", "1.8900"), ("DRUG_B", "2.5", "100")], med_type="21")
    bodies = []
    r = await hospital.post("/v1/settlements/preview", json=inpatient)
    assert r.status_code == 200, r.text
    assert _exactly(SettlementOut, r.content)["status"] == "preview"
    r = await hospital.post("/v1/settlements", json=inpatient, headers={"Idempotency-Key": "m-1"})
    assert r.status_code == 201, r.text
    settled = _exactly(SettlementOut, r.content)
    bodies.append(settled)
    replay = await hospital.post("/v1/settlements", json=inpatient, headers={"Idempotency-Key": "m-1"})
    assert replay.content == r.content
    purchase = encounter("EMP", [("DRUG_A", "3", "12.345678")], med_type="41")
    r = await pharmacy.post("/v1/settlements", json=purchase, headers={"Idempotency-Key": "m-2"})
    assert r.status_code == 201, r.text
    _exactly(SettlementOut, r.content)
    sid = settled["settlement_id"]
    read = await hospital.get(f"/v1/settlements/{sid}")
    assert read.content == replay.content  # still settled: the stored bytes
    reversed_ = await hospital.post(f"/v1/settlements/{sid}/reversal")
    assert reversed_.status_code == 201
    doc = _exactly(SettlementOut, reversed_.content)
    assert doc["status"] == "reversed" and doc["reversed_at"] is not None
    # Only status and reversed_at differ from the settled body.
    assert {k: v for k, v in doc.items() if k not in ("status", "reversed_at")} == {
        k: v for k, v in settled.items() if k not in ("status", "reversed_at")
    }
    again = await hospital.post(f"/v1/settlements/{sid}/reversal")
    assert again.status_code == 200 and again.content == reversed_.content
    assert (await hospital.get(f"/v1/settlements/{sid}")).content == reversed_.content
    listed = _exactly(SettlementList, (await hospital.get("/v1/settlements")).content)
    assert [i["status"] for i in listed["items"]] == ["reversed"]
