"""The demo world: regions, institutions, catalog, the policies of policy.md, persons, API keys.

``load_demo`` is idempotent: every row is inserted only when absent (``ON CONFLICT DO
NOTHING``), so loading twice changes nothing, and an operator's later edits survive.
Demo API keys are derived deterministically from their label, so a second load prints
the same keys. They are well known: never load the demo into a production database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.demo.policies import DEMO_POLICIES
from app.kit.auth import hash_key
from app.apikeys.tables import api_keys
from app.persons.tables import enrollments
from app.reference.tables import catalog_items, institutions, policies, regions
from app.persons.tables import persons as persons_table
from app.chronic.tables import chronic_applications
from app.registrations.tables import special_disease_registrations
from app.persons.certno import check_digit
from app.reference.service import document_json, validate_policy

REGIONS = [
    ("441900", "东莞市"),
    ("442000", "中山市"),
    ("510900", "遂宁市"),
    ("440000", "广东省"),
    ("510000", "四川省"),
    ("110100", "北京市"),
]

# (code, name, kind, level, region, active)
INSTITUTIONS: list[tuple[str, str, str, int | None, str, bool]] = []
for _region, _city in (("441900", "东莞"), ("442000", "中山"), ("510900", "遂宁")):
    INSTITUTIONS += [
        (f"H{_region}00001", f"{_city}市人民医院", "hospital", 3, _region, True),
        (f"H{_region}00002", f"{_city}市第二人民医院", "hospital", 2, _region, True),
        (f"H{_region}00003", f"{_city}市第三人民医院 (一级)", "hospital", 1, _region, True),
        (f"C{_region}00001", f"{_city}市东城社区卫生服务中心", "community", 1, _region, True),
        (f"C{_region}00002", f"{_city}市南城社区卫生服务中心", "community", 1, _region, True),
        (f"P{_region}00001", f"{_city}大参林药店", "pharmacy", None, _region, True),
    ]
INSTITUTIONS += [
    ("H11010000001", "北京协和医院", "hospital", 3, "110100", True),
    ("H44190000009", "东莞市已停业医院", "hospital", 2, "441900", False),
]


def _item(region: str, code: str, name: str, category: str, ratio: str = "0", cap: str | None = None,
          restriction: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "region": region,
        "code": code,
        "name": name,
        "category": category,
        "self_pay_ratio": Decimal(ratio),
        "price_cap": None if cap is None else Decimal(cap),
        "restriction": restriction,
    }


CATALOG = [
    # national 000000 — drugs
    _item("000000", "XA10BAA001A001010100", "二甲双胍片", "A"),
    _item("000000", "XC08CAA001A001010100", "硝苯地平缓释片", "A", cap="1.20"),
    _item("000000", "XJ01CAA001A001010100", "阿莫西林胶囊", "A", cap="0.50"),
    _item("000000", "XL01XEG001A001010100", "吉非替尼片", "B", ratio="0.10", cap="2.00",
          restriction={"diagnoses": ["C34"], "min_level": 2}),
    _item("000000", "XA10AEA001B002010100", "甘精胰岛素注射液", "B", ratio="0.10",
          restriction={"special_diseases": ["M01600"]}),
    _item("000000", "XC10AAA001A001010100", "阿托伐他汀钙片", "B", ratio="0.05"),
    _item("000000", "XN06BXA001A001010100", "奥拉西坦胶囊", "B", ratio="0.20", restriction={"med_types": ["21"]}),
    _item("000000", "XB01ACA001A001010100", "氯吡格雷片", "B", ratio="0.10", restriction={"diagnoses": ["I20", "I21", "I63"]}),
    _item("000000", "XA11XXA001A001010100", "复合维生素片", "C"),
    _item("000000", "ZA01AAA001A001010100", "六味地黄丸", "B", ratio="0.15", restriction={"min_level": 1}),
    # services 医疗服务项目
    _item("000000", "001102000010000", "床位费 (普通病房)", "A", cap="60"),
    _item("000000", "001101000010000", "普通门诊诊查费", "A", cap="10"),
    _item("000000", "250101001000000", "血常规", "A", cap="20"),
    _item("000000", "210300001000000", "CT平扫", "B", ratio="0.10", cap="300"),
    _item("000000", "331501001000000", "经皮冠状动脉支架置入术", "B", ratio="0.10", cap="5000",
          restriction={"min_level": 3, "med_types": ["21"]}),
    _item("000000", "311201001000000", "血液透析", "A", cap="400", restriction={"med_types": ["14", "21"]}),
    _item("000000", "120100001000000", "美容整形", "C"),
    # materials 医用耗材
    _item("000000", "C0301010010000001", "药物洗脱冠脉支架", "B", ratio="0.30", cap="800",
          restriction={"min_level": 3}),
    _item("000000", "C1402010010000001", "一次性输液器", "A", cap="5"),
    _item("000000", "C0705010010000001", "人工晶体", "B", ratio="0.20", cap="2000"),
    # provincial overrides 440000 (Guangdong)
    _item("440000", "XL01XEG001A001010100", "吉非替尼片 (广东)", "B", ratio="0.05", cap="1.80",
          restriction={"diagnoses": ["C34"], "min_level": 2}),
    _item("440000", "ZB01BBA001A001010100", "广东凉茶颗粒", "C"),
    # Dongguan 441900 overrides
    _item("441900", "001102000010000", "床位费 (普通病房, 东莞)", "A", cap="50"),
    _item("441900", "XC10AAA001A001010100", "阿托伐他汀钙片 (东莞)", "A"),
]  # fmt: skip

AID_CATEGORIES = (None, "extreme_poverty", "minimum_living", "registered_poor", "low_income")
ENROLLED_FROM = dt.date(2020, 1, 1)


def certno_for(region: str, birth: dt.date, seq: int, female: bool) -> str:
    """A checksum-valid 18-character ID: region, birth date, sequence (odd = male), check digit."""
    order = seq * 2 % 1000 if female else (seq * 2 + 1) % 1000
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)


def _demo_persons() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    people: list[dict[str, Any]] = []
    enrolled: list[dict[str, Any]] = []
    surnames = "王李张刘陈杨黄赵吴周"
    for r_index, region in enumerate(("441900", "442000", "510900")):
        seq = 0

        def add(insutype: str, aid: str | None, retired: bool, supplementary: bool, balance: str, year: int,
                tier: int | None = None) -> None:
            nonlocal seq
            seq += 1
            female = seq % 2 == 0
            birth = dt.date(year, 1 + seq % 12, 1 + seq % 27)
            pid = f"P{region}{seq:06d}"
            people.append({
                "person_id": pid,
                "certno": certno_for(region, birth, seq, female),
                "name": surnames[(seq + r_index) % len(surnames)] + ("女士" if female else "先生") + f"{seq}",
                "gender": "female" if female else "male",
                "birth_date": birth,
                "insured_region": region,
                "retired": retired,
                "supplementary": supplementary,
                "aid_category": aid,
                "account_balance": Decimal(balance),
            })  # fmt: skip
            enrolled.append(
                {"person_id": pid, "insutype": insutype, "valid_from": ENROLLED_FROM, "valid_to": None, "tier": tier}
            )

        for aid in AID_CATEGORIES:  # residents 390 of every aid category (and none)
            # Suining's registered poor resident pays at contribution tier 1 (seed 002).
            add("390", aid, False, False, "0", 1960 + seq, 1 if region == "510900" and aid == "registered_poor" else None)
        add("390", None, False, True, "0", 1985)  # resident with supplementary insurance
        add("310", None, False, False, "3000.00", 1988)  # employee at work
        add("310", None, True, True, "8000.00", 1955)  # retired employee, supplementary
        add("310", "low_income", True, False, "150.50", 1950)  # retired, low income
        if region == "510900":
            add("390", "registered_poor", False, False, "0", 1958, 2)  # P510900000010: tier 2
            add("390", "registered_poor", False, False, "0", 1962)  # P510900000011: no tier (tier_not_covered)
    return people, enrolled


def _demo_id(label: str) -> UUID:
    return UUID(bytes=hashlib.sha256(f"medsettle-demo-row:{label}".encode()).digest()[:16], version=4)


def _registration(label: str, person_id: str, disease: str, certifier: str, sites: list[str]) -> dict[str, Any]:
    return {
        "registration_id": _demo_id(label), "person_id": person_id, "disease_code": disease,
        "certifier_code": certifier, "valid_from": dt.date(2026, 1, 1), "valid_to": dt.date(2026, 12, 31),
        "all_sites": False, "sites": sites,
    }  # fmt: skip


#: Examples of the seed 000/002 rules (docs/chronic.md walks through them):
#: - Zhongshan 艾滋病 certified and treated only at the designated 中山市人民医院;
#: - Suining's poor registered for M07900 at 遂宁市第二人民医院: P510900000004 (tier 1),
#:   P510900000010 (tier 2) and P510900000011 (no tier: its `14` encounters are `tier_not_covered`).
DEMO_REGISTRATIONS = [
    _registration("reg:aids", "P442000000001", "M02300", "H44200000001", ["H44200000001"]),
    _registration("reg:copd-tier1", "P510900000004", "M07900", "H51090000002", ["H51090000002"]),
    _registration("reg:copd-tier2", "P510900000010", "M07900", "H51090000002", ["H51090000002"]),
    _registration("reg:copd-no-tier", "P510900000011", "M07900", "H51090000002", ["H51090000002"]),
]


def _application(label: str, person_id: str, disease: str, status: str, reason: str | None) -> dict[str, Any]:
    return {
        "application_id": _demo_id(label), "person_id": person_id, "disease_code": disease, "month": "2026-11",
        "source": "application", "all_sites": False, "sites": ["H51090000002"],
        "evidence": ["出院记录 (遂宁市第二人民医院)", "肺功能检查报告"], "note": "村社申报 (demo)",
        "applied_by": "C51090000001", "status": status, "reason": reason,
        "decided_at": datetime_cst(2026, 11, 30, 17) if status != "pending" else None,
    }  # fmt: skip


def datetime_cst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=8)))


#: The ledger 台账 of Suining's November batch: one application still pending, one refused
#: (an ordinary resident applying for the poor's disease), in writing.
DEMO_APPLICATIONS = [
    _application("app:pending", "P510900000011", "M03900", "pending", None),
    _application("app:refused", "P510900000001", "M07900", "refused", "非建档立卡贫困人口, 该病种不适用 (书面告知)"),
]


def demo_key(label: str) -> str:
    """Deterministic (well-known) demo key for a label."""
    return "msk_demo_" + hashlib.sha256(f"medsettle-demo:{label}".encode()).hexdigest()[:40]


def demo_keys() -> list[tuple[str, str, str | None]]:
    """(label, role, institution_code) of every demo key."""
    keys: list[tuple[str, str, str | None]] = [("admin", "admin", None), ("ops", "ops", None), ("wallet", "wallet", None)]
    keys += [(f"institution:{code}", "institution", code) for code, *_ in INSTITUTIONS]
    return keys


def _key_id(label: str) -> UUID:
    return UUID(bytes=hashlib.sha256(f"medsettle-demo-id:{label}".encode()).digest()[:16], version=4)


async def load_demo(conn: AsyncConnection | AsyncSession, persons: int = 0) -> dict[str, str]:
    """Load the demo world (idempotent). Returns {label: api key}.

    ``persons`` adds that many synthetic residents ``S<region><seq>`` (plus the fixed demo
    persons), inserted in batches, for benchmarks (10,000 in a few seconds). Runs in the
    caller's transaction.
    """
    extra = persons

    async def put(table: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            await conn.execute(insert(table).on_conflict_do_nothing(), rows)

    await put(regions, [{"code": c, "name": n} for c, n in REGIONS])
    await put(
        institutions,
        [{"code": c, "name": n, "kind": k, "level": lv, "region": r, "active": a} for c, n, k, lv, r, a in INSTITUTIONS],
    )
    await put(catalog_items, CATALOG)
    docs = []
    for d in DEMO_POLICIES:
        effective = dt.date.fromisoformat(d["effective_from"])
        doc = validate_policy(d, d["region"], d["insutype"], effective)
        docs.append({"region": d["region"], "insutype": d["insutype"], "effective_from": effective,
                     "document": document_json(doc)})  # fmt: skip
    await put(policies, docs)
    people, enrolled = _demo_persons()
    await put(persons_table, people)
    await put(enrollments, enrolled)
    await put(special_disease_registrations, DEMO_REGISTRATIONS)
    await put(chronic_applications, DEMO_APPLICATIONS)
    if extra > 0:
        await _synthetic_persons(conn, extra)
    keys = {label: demo_key(label) for label, _, _ in demo_keys()}
    await put(
        api_keys,
        [
            {"key_id": _key_id(label), "key_hash": hash_key(keys[label]), "role": role, "institution_code": inst,
             "label": f"demo:{label}"}
            for label, role, inst in demo_keys()
        ],
    )  # fmt: skip
    await conn.execute(text("SELECT pg_notify('medsettle_reference', '')"))
    return keys


async def _synthetic_persons(conn: AsyncConnection | AsyncSession, count: int, batch: int = 5000) -> None:
    regions_cycle = ("441900", "442000", "510900")
    for start in range(0, count, batch):
        people = []
        enrolled = []
        for i in range(start, min(count, start + batch)):
            region = regions_cycle[i % 3]
            birth = dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
            pid = f"S{region}{i:08d}"
            aid = AID_CATEGORIES[i % 10] if i % 10 < len(AID_CATEGORIES) else None
            people.append({
                "person_id": pid, "certno": certno_for(region, birth, i % 500, i % 2 == 0), "name": f"合成{i}",
                "gender": "female" if i % 2 == 0 else "male", "birth_date": birth, "insured_region": region,
                "retired": False, "supplementary": i % 7 == 0, "aid_category": aid, "account_balance": Decimal("0"),
            })  # fmt: skip
            enrolled.append(
                {"person_id": pid, "insutype": "390", "valid_from": ENROLLED_FROM, "valid_to": None, "tier": None}
            )
        await conn.execute(insert(persons_table).on_conflict_do_nothing(), people)
        await conn.execute(insert(enrollments).on_conflict_do_nothing(), enrolled)


def describe_keys(keys: dict[str, str]) -> str:
    lines = ["Demo API keys (well known — demo databases only):"]
    for label, _, _ in demo_keys():
        lines.append(f"  {label:<28} {keys[label]}")
    return "\n".join(lines)
