"""The chronic-disease test world: Suining-like region 510900 (seeds 000, 002, 004 rules), arranged with SQL.

Its 390 policy has no critical-illness, aid, fallback or secondary-aid layer, so every
number is basic insurance alone: `21` 80 % after a 500.00 deductible per encounter, `14`
90 % with no deductible. Its special diseases carry each form of the new rules:

- M03900 高血压: certified_by {"min_level": 1}, treated_by "any", annual_limit 2000.
- M02300 艾滋病: certified_by and treated_by {"institutions": [HA]} (a designated hospital).
- M00500 恶性肿瘤门诊治疗: certified_by {"min_level": 2}, treated_by {"kinds": ["hospital"]}.
- M07900 慢阻肺 (贫困人口): aid_categories ["registered_poor"], annual_limit {"1": "1500", "2": "3000"},
  certified_by {"min_level": 2} (seed 002: 二级及以上医院的住院资料).
"""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import TestDB
from tests.world import load_world

SN = "510900"
H3S = "H51090000001"  # hospital level 3
H2S = "H51090000002"  # hospital level 2
H1S = "H51090000003"  # hospital level 1
C1S = "C51090000001"  # community (level 1)
P1S = "P51090000001"  # pharmacy
HAS = "H51090000009"  # hospital level 3 designated for AIDS
INSTITUTIONS = (
    (H3S, "hospital", 3),
    (H2S, "hospital", 2),
    (H1S, "hospital", 1),
    (C1S, "community", 1),
    (P1S, "pharmacy", None),
    (HAS, "hospital", 3),
)


def suining_policy() -> dict[str, Any]:
    return {
        "region": SN,
        "insutype": "390",
        "effective_from": "2026-01-01",
        "name": "遂宁市城乡居民基本医疗保险待遇 (test)",
        "basic": {
            "annual_cap": "300000",
            "rules": [
                {"med_type": "21", "ratio": "0.80", "deductible": "500", "deductible_scope": "per_encounter"},
                {"med_type": "14", "ratio": "0.90", "deductible": "0", "deductible_scope": "annual",
                 "deductible_group": "special"},
            ],
        },
        "special_diseases": {
            "M03900": {"name": "高血压", "class": 2, "annual_limit": "2000", "certified_by": {"min_level": 1},
                       "treated_by": "any", "diagnoses": ["I10", "I11", "I12", "I13", "I15"]},
            "M02300": {"name": "艾滋病", "class": 1, "ratio": "0.90", "certified_by": {"institutions": [HAS]},
                       "treated_by": {"institutions": [HAS]}, "diagnoses": ["B20", "B21", "B22", "B23", "B24"]},
            "M00500": {"name": "恶性肿瘤门诊治疗", "class": 1, "ratio": "0.85", "certified_by": {"min_level": 2},
                       "treated_by": {"kinds": ["hospital"]}},
            "M07900": {"name": "慢性阻塞性肺疾病(贫困人口)", "class": 2, "annual_limit": {"1": "1500", "2": "3000"},
                       "certified_by": {"min_level": 2},
                       "aid_categories": ["registered_poor"], "diagnoses": ["J44"]},
        },
        "special_disease_sites": {"max_sites": 3, "require_community": False, "all_sites_if_supplementary": True},
        "cross_region": None,
        "critical_illness": None,
        "medical_aid": None,
        "fallback": None,
        "secondary_aid": None,
    }  # fmt: skip


async def load_chronic_world(db: TestDB) -> None:
    """Dongguan's world (regions, national catalog: DRUG_A is category A) plus region 510900."""
    await load_world(db)
    await db.execute("INSERT INTO regions (code, name) VALUES ($1, '遂宁') ON CONFLICT DO NOTHING", SN)
    for code, kind, level in INSTITUTIONS:
        await db.execute(
            "INSERT INTO institutions (code, name, kind, level, region, active) VALUES ($1::text, $1::text, $2, $3, $4, true)",
            code, kind, level, SN,
        )  # fmt: skip
    doc = suining_policy()
    await db.execute(
        "INSERT INTO policies (region, insutype, effective_from, document) VALUES ($1, $2, $3::text::date, $4::jsonb)",
        doc["region"], doc["insutype"], doc["effective_from"], json.dumps(doc),
    )  # fmt: skip


async def add_person(
    db: TestDB,
    person_id: str,
    *,
    region: str = SN,
    aid_category: str | None = None,
    supplementary: bool = False,
    tiers: tuple[tuple[str, str | None, int | None], ...] = (("2020-01-01", None, None),),
) -> str:
    """A 390 resident; ``tiers``: (valid_from, valid_to, tier) enrollments."""
    await db.execute(
        "INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, retired, supplementary,"
        " aid_category, account_balance) VALUES ($1, '11010519491231002X', 'test', 'female', '1949-12-31', $2, false,"
        " $3, $4, 0)",
        person_id, region, supplementary, aid_category,
    )  # fmt: skip
    for valid_from, valid_to, tier in tiers:
        await db.execute(
            "INSERT INTO enrollments (person_id, insutype, valid_from, valid_to, tier)"
            " VALUES ($1, '390', $2::text::date, $3::text::date, $4)",
            person_id, valid_from, valid_to, tier,
        )  # fmt: skip
    return person_id


async def add_registration(
    db: TestDB, person_id: str, disease: str, sites: list[str] | None, *, valid_from: str = "2026-01-01",
    valid_to: str = "2026-12-31", certifier: str | None = H3S,
) -> None:
    """A registration arranged directly (bypassing the registration rules), ``sites`` None = all."""
    await db.execute(
        "INSERT INTO special_disease_registrations (registration_id, person_id, disease_code, certifier_code,"
        " valid_from, valid_to, all_sites, sites) VALUES (gen_random_uuid(), $1, $2, $3, $4::text::date,"
        " $5::text::date, $6, $7)",
        person_id, disease, certifier, valid_from, valid_to, sites is None, sites or [],
    )  # fmt: skip


def registration(disease: str, sites: list[str] | str, *, valid_from: str = "2026-01-01",
                 valid_to: str = "2026-12-31") -> dict[str, Any]:
    return {"disease_code": disease, "valid_from": valid_from, "valid_to": valid_to, "sites": sites}


def special(person_id: str, disease: str, amount: str, *, encounter_id: str, date: str = "2026-03-10",
            diagnoses: list[str] | None = None) -> dict[str, Any]:
    """A `14` encounter of one DRUG_A line (category A: all in scope)."""
    body: dict[str, Any] = {
        "person_id": person_id, "encounter_id": encounter_id, "med_type": "14", "encounter_date": date,
        "special_disease": disease, "items": [{"line_no": 1, "code": "DRUG_A", "qty": "1", "unit_price": amount}],
    }
    if diagnoses:
        body["diagnoses"] = diagnoses
    return body


def inpatient(person_id: str, amount: str, *, encounter_id: str, date: str, diagnoses: list[str]) -> dict[str, Any]:
    return {
        "person_id": person_id, "encounter_id": encounter_id, "med_type": "21", "encounter_date": date,
        "diagnoses": diagnoses, "items": [{"line_no": 1, "code": "DRUG_A", "qty": "1", "unit_price": amount}],
    }  # fmt: skip
