"""A small world for settlement tests, arranged with SQL (the reference API has its own tests).

Policies are the policy.md Dongguan resident document (verbatim from the spec)
plus an employee variant; institutions and persons are named for what they are.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.helpers import TestDB

#: The Dongguan resident policy of shared/spec/policy.md, verbatim.
DONGGUAN_390 = Path(__file__).with_name("dongguan_390.json")

H3 = "H44190000001"  # Dongguan, hospital level 3
H2 = "H44190000002"  # level 2
H1 = "H44190000003"  # level 1
C1 = "C44190000001"  # community
P1 = "P44190000001"  # pharmacy
H3_ZS = "H44200000001"  # Zhongshan (same province, other region)
H3_BJ = "H11010000001"  # Beijing (other province)
CLOSED = "H44190000009"  # inactive


def dongguan_resident_policy() -> dict[str, Any]:
    return json.loads(DONGGUAN_390.read_text(encoding="utf-8"))


def dongguan_employee_policy() -> dict[str, Any]:
    doc = copy.deepcopy(dongguan_resident_policy())
    doc["insutype"] = "310"
    doc["name"] = "东莞市职工基本医疗保险待遇 (test)"
    doc["basic"]["retired_bonus"] = "0.10"
    doc["medical_aid"] = None
    doc["secondary_aid"] = None
    return doc


async def load_world(db: TestDB) -> None:
    for code, name in (("441900", "东莞"), ("442000", "中山"), ("440000", "广东"), ("110100", "北京")):
        await db.execute("INSERT INTO regions (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", code, name)
    for code, kind, level, region, active in (
        (H3, "hospital", 3, "441900", True),
        (H2, "hospital", 2, "441900", True),
        (H1, "hospital", 1, "441900", True),
        (C1, "community", 1, "441900", True),
        (P1, "pharmacy", None, "441900", True),
        (H3_ZS, "hospital", 3, "442000", True),
        (H3_BJ, "hospital", 3, "110100", True),
        (CLOSED, "hospital", 3, "441900", False),
    ):
        await db.execute(
            "INSERT INTO institutions (code, name, kind, level, region, active) VALUES ($1::text, $1::text, $2, $3, $4, $5)"
            " ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, level = EXCLUDED.level,"
            " region = EXCLUDED.region, active = EXCLUDED.active",
            code, kind, level, region, active,
        )
    # Catalog: national items, one Guangdong price cap override.
    for region, code, category, ratio, cap, restriction in (
        ("000000", "DRUG_A", "A", "0", None, None),
        ("000000", "DRUG_B10", "B", "0.10", None, None),
        ("000000", "ITEM_C", "C", "0", None, None),
        ("000000", "SERVICE_CAP100", "A", "0", "100.00", None),
        ("000000", "MATERIAL_A", "A", "0", None, None),
        ("000000", "DRUG_INPATIENT_ONLY", "A", "0", None, {"med_types": ["21"]}),
        ("000000", "SERVICE_GD", "A", "0", "100.00", None),
        ("440000", "SERVICE_GD", "A", "0", "90.00", None),  # Guangdong's own cap wins in 44xxxx
    ):
        await db.execute(
            "INSERT INTO catalog_items (region, code, name, category, self_pay_ratio, price_cap, restriction)"
            " VALUES ($1, $2::text, $2::text, $3, $4::numeric, $5::numeric, $6::jsonb)",
            region, code, category, ratio, cap, json.dumps(restriction) if restriction else None,
        )
    for doc in (dongguan_resident_policy(), dongguan_employee_policy()):
        await db.execute(
            "INSERT INTO policies (region, insutype, effective_from, document) VALUES ($1, $2, $3::text::date, $4::jsonb)",
            doc["region"], doc["insutype"], doc["effective_from"], json.dumps(doc),
        )


async def add_person(
    db: TestDB,
    person_id: str,
    *,
    insutype: str = "390",
    aid_category: str | None = None,
    retired: bool = False,
    balance: str = "0",
    region: str = "441900",
) -> str:
    await db.execute(
        "INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, retired, supplementary,"
        " aid_category, account_balance) VALUES ($1, '11010519491231002X', 'test', 'female', '1949-12-31', $2, $3, false,"
        " $4, $5::numeric)",
        person_id, region, retired, aid_category, balance,
    )
    await db.execute(
        "INSERT INTO enrollments (person_id, insutype, valid_from) VALUES ($1, $2, '2020-01-01')", person_id, insutype
    )
    return person_id


def encounter(
    person_id: str | None,
    lines: list[tuple[str, str, str]],
    *,
    med_type: str = "21",
    encounter_id: str = "E1",
    date: str = "2026-03-10",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person_id": person_id,
        "encounter_id": encounter_id,
        "med_type": med_type,
        "encounter_date": date,
        "items": [
            {"line_no": n, "code": code, "qty": qty, "unit_price": price}
            for n, (code, qty, price) in enumerate(lines, start=1)
        ],
    }
    body.update(extra)
    return body


async def accumulators(db: TestDB, person_id: str, year: int = 2026) -> dict[str, Decimal]:
    rows = await db.fetch("SELECT name, amount FROM accumulators WHERE person_id = $1 AND year = $2", person_id, year)
    return {r["name"]: r["amount"] for r in rows if r["amount"] != 0}
