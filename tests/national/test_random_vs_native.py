"""Random encounters (seeded) through the envelope against the native API: every setlinfo
amount equals the native settlement's total it maps to, and a refusal is the same code."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from app.demo.world import CATALOG
from tests.helpers import make_asgi_client
from tests.national.flows import admit, assert_matches_native, fee_rows, native_body, register, settle_data

pytestmark = pytest.mark.asyncio

PERSONS = [f"P441900{n:06d}" for n in range(1, 10)] + ["P442000000003", "P510900000004"]
PLACES = ["H44190000001", "H44190000002", "C44190000001", "H44200000001", "H51090000001"]
CODES = sorted({item["code"] for item in CATALOG}) + ["NOT-IN-CATALOG-1"]


@pytest.mark.parametrize("seed", range(6))
async def test_random_encounters_match_the_native_answer(his_factory, world, db, app, seed):
    rng = random.Random(seed)
    for n in range(4):
        person = rng.choice(PERSONS)
        place = rng.choice(PLACES)
        inpatient = rng.random() < 0.5
        lines = [(f"L{i}", rng.choice(CODES), str(rng.randint(1, 5)), f"{rng.randint(1, 300000) / 100:.2f}")
                 for i in range(rng.randint(1, 6))]  # fmt: skip
        his = his_factory(place)
        insutype = await db.fetchval("SELECT insutype FROM enrollments WHERE person_id = $1", person)
        if inpatient:
            mdtrt_id = await admit(his, db, person, insutype=insutype)
            await his.ok("2301", {"feedetail": fee_rows(mdtrt_id, person, lines, batch=None)})
            answer = await his.call("2303", settle_data(mdtrt_id, person, None, batch=None, insutype=insutype))
            extra = {"med_type": "21", "encounter_date": "2026-06-15", "admission_date": "2026-06-10",
                     "diagnoses": ["I21.0"], "insutype": insutype}  # fmt: skip
        else:
            mdtrt_id = await register(his, db, person)
            await his.ok("2204", {"feedetail": fee_rows(mdtrt_id, person, lines)})
            answer = await his.call("2206", settle_data(mdtrt_id, person, None, insutype=insutype))
            extra = {"med_type": "11", "encounter_date": "2026-06-15", "diagnoses": ["I10"], "insutype": insutype}
        async with make_asgi_client(app, world[f"institution:{place}"]) as native:
            r = await native.post("/v1/settlements/preview", json=native_body(person, mdtrt_id, lines, **extra))
        label = (seed, n, person, place, inpatient)
        if r.status_code == 200:
            assert answer["infcode"] == 0, (label, answer["err_msg"])
            assert_matches_native(answer["output"]["setlinfo"], r.json()["totals"], r.json()["insutype"])
            assert answer["output"]["setlinfo"]["medfee_sumamt"] == sum(
                (D(q) * D(p)).quantize(D("0.01")) for _, _, q, p in lines)
        else:
            assert answer["infcode"] == -1, label
            assert answer["err_msg"].split(":")[0] == r.json()["code"], (label, answer["err_msg"], r.json())
