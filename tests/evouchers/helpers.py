"""Small helpers shared by the e-voucher tests."""

from __future__ import annotations

import re
from typing import Any

from tests.world import encounter

#: 4 × DRUG_A (category A) at 50.00: 200.00 in scope, at a pharmacy (med_type 41).
PURCHASE = [("DRUG_A", "4", "50.00")]


async def issue(wallet, person_id: str) -> dict[str, Any]:
    r = await wallet.post("/v1/e-vouchers", json={"person_id": person_id})
    assert r.status_code == 201, r.text
    return r.json()


def purchase(code: str, *, encounter_id: str = "E1", med_type: str = "41", **extra: Any) -> dict[str, Any]:
    return encounter(None, PURCHASE, med_type=med_type, encounter_id=encounter_id, e_voucher_code=code, **extra)


async def settle(client, body: dict[str, Any], key: str = "k-1"):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": key})


async def preview(client, body: dict[str, Any]):
    return await client.post("/v1/settlements/preview", json=body)


async def metric(client, name: str, **labels: str) -> float:
    """A sample's value from `GET /metrics` (0 when absent)."""
    text = (await client.get("/metrics")).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name + ("{" + want + "}" if labels else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0
