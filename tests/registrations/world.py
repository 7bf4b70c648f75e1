"""The registrations test world: the settlement world (Dongguan) plus Zhongshan, arranged with SQL.

Zhongshan (seed 000): residents (390) with only basic insurance choose 1 site for a
class-2 special disease; those with supplementary insurance may use every site.
Its 390 policy here refuses unfiled cross-region treatment (`unfiled: reject`) and
has no cross-province outpatient. The Zhongshan employee (310) variant illustrates
"1–3 sites with at least one community site" and lists one disease only it covers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.helpers import TestDB
from tests.world import H3_ZS, dongguan_resident_policy, load_world

ZS = "442000"
C1_ZS = "C44200000001"  # Zhongshan community
H2_ZS = "H44200000002"  # Zhongshan hospital level 2
H1_ZS = "H44200000003"  # Zhongshan hospital level 1
P1_ZS = "P44200000001"  # Zhongshan pharmacy
CLOSED_ZS = "H44200000009"  # inactive
__all__ = ["ZS", "C1_ZS", "H2_ZS", "H1_ZS", "P1_ZS", "CLOSED_ZS", "H3_ZS"]


def zhongshan_resident_policy() -> dict[str, Any]:
    doc = copy.deepcopy(dongguan_resident_policy())
    doc.update(region=ZS, name="中山市城乡居民基本医疗保险待遇 (test)")
    doc["special_disease_sites"] = {"max_sites": 1, "require_community": False, "all_sites_if_supplementary": True}
    doc["cross_region"] = {"filed_ratio_delta": "0", "unfiled": "reject", "cross_province_outpatient": False}
    return doc


def zhongshan_employee_policy() -> dict[str, Any]:
    doc = zhongshan_resident_policy()
    doc.update(insutype="310", name="中山市职工基本医疗保险待遇 (test)")
    doc["basic"]["retired_bonus"] = "0.10"
    doc["medical_aid"] = None
    doc["secondary_aid"] = None
    doc["special_diseases"] = dict(doc["special_diseases"])
    doc["special_diseases"]["M07800"] = {"name": "慢性肾脏病", "class": 2}  # only employees
    doc["special_disease_sites"] = {"max_sites": 3, "require_community": True, "all_sites_if_supplementary": False}
    return doc


async def insert_policy(db: TestDB, doc: dict[str, Any]) -> None:
    await db.execute(
        "INSERT INTO policies (region, insutype, effective_from, document) VALUES ($1, $2, $3::text::date, $4::jsonb)",
        doc["region"], doc["insutype"], doc["effective_from"], json.dumps(doc),
    )


async def load_registration_world(db: TestDB) -> None:
    """Dongguan (tests/world.py) plus Zhongshan institutions and policies."""
    await load_world(db)
    for code, kind, level, active in (
        (C1_ZS, "community", 1, True),
        (H2_ZS, "hospital", 2, True),
        (H1_ZS, "hospital", 1, True),
        (P1_ZS, "pharmacy", None, True),
        (CLOSED_ZS, "hospital", 3, False),
    ):
        await db.execute(
            "INSERT INTO institutions (code, name, kind, level, region, active)"
            " VALUES ($1::text, $1::text, $2, $3, $4, $5)"
            " ON CONFLICT (code) DO NOTHING",
            code, kind, level, ZS, active,
        )
    await insert_policy(db, zhongshan_resident_policy())
    await insert_policy(db, zhongshan_employee_policy())


async def add_person(
    db: TestDB,
    person_id: str,
    *,
    region: str = "441900",
    insutypes: tuple[str, ...] = ("390",),
    supplementary: bool = False,
    aid_category: str | None = None,
) -> str:
    await db.execute(
        "INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, retired, supplementary,"
        " aid_category, account_balance) VALUES ($1, '11010519491231002X', 'test', 'female', '1949-12-31', $2, false,"
        " $3, $4, 0)",
        person_id, region, supplementary, aid_category,
    )
    for insutype in insutypes:
        await db.execute(
            "INSERT INTO enrollments (person_id, insutype, valid_from) VALUES ($1, $2, '2020-01-01')",
            person_id, insutype,
        )
    return person_id


def registration(disease: str = "M03900", sites: list[str] | str = (), *, valid_from: str = "2026-01-01",
                 valid_to: str = "2026-12-31") -> dict[str, Any]:
    return {"disease_code": disease, "valid_from": valid_from, "valid_to": valid_to,
            "sites": sites if isinstance(sites, str) else list(sites)}
