"""The demo policy documents 待遇政策. ``DONGGUAN_390`` is exactly the document of policy.md."""

from __future__ import annotations

import copy
from typing import Any

DONGGUAN_390: dict[str, Any] = {
    "region": "441900",
    "insutype": "390",
    "effective_from": "2026-01-01",
    "name": "东莞市城乡居民基本医疗保险待遇 (demo)",
    "basic": {
        "annual_cap": "400000",
        "retired_bonus": "0",
        "downward_referral_bonus": "0.05",
        "rules": [
            {"med_type": "21", "kind": "hospital", "level": 3, "ratio": "0.70", "deductible": "1000", "deductible_scope": "per_encounter"},
            {"med_type": "21", "kind": "hospital", "level": 2, "ratio": "0.80", "deductible": "600", "deductible_scope": "per_encounter"},
            {"med_type": "21", "level": 1, "ratio": "0.90", "deductible": "300", "deductible_scope": "per_encounter"},
            {"med_type": "11", "kind": "community", "ratio": "0.60", "deductible": "100", "deductible_scope": "annual",
             "deductible_group": "outpatient", "annual_limit": "1000", "limit_group": "general_outpatient"},
            {"med_type": "14", "ratio": "0.75", "deductible": "0", "deductible_scope": "annual", "deductible_group": "special"},
            {"med_type": "41", "ratio": "0.50", "deductible": "100", "deductible_scope": "annual",
             "deductible_group": "outpatient", "annual_limit": "1000", "limit_group": "general_outpatient"},
        ],
    },
    "special_diseases": {
        "M03900": {"name": "高血压", "class": 2, "annual_limit": "2000"},
        "M01600": {"name": "糖尿病", "class": 2, "annual_limit": "3000"},
        "M00500": {"name": "恶性肿瘤门诊治疗", "class": 1, "ratio": "0.85"},
    },
    "special_disease_sites": {"max_sites": 1, "require_community": False, "all_sites_if_supplementary": True},
    "cross_region": {"filed_ratio_delta": "0", "unfiled": "ratio_delta", "unfiled_ratio_delta": "-0.10",
                     "cross_province_outpatient": True},
    "critical_illness": {
        "med_types": ["21", "14"],
        "deductible": "15000",
        "segments": [{"up_to": "100000", "ratio": "0.60"}, {"up_to": None, "ratio": "0.70"}],
        "annual_cap": "400000",
        "tilt": {"categories": ["extreme_poverty", "minimum_living", "registered_poor"],
                 "deductible_factor": "0.5", "ratio_bonus": "0.05", "no_cap": True},
    },
    "medical_aid": {
        "med_types": ["21", "14"],
        "categories": {
            "extreme_poverty": {"threshold": "0", "ratio": "1.00", "annual_cap": None},
            "minimum_living": {"threshold": "0", "ratio": "0.70", "annual_cap": "50000"},
            "registered_poor": {"threshold": "0", "ratio": "0.70", "annual_cap": "50000"},
            "low_income": {"threshold": "1000", "ratio": "0.50", "annual_cap": "30000"},
        },
    },
    "fallback": None,
    "secondary_aid": {
        "annual_cap": "100000",
        "categories": {
            "extreme_poverty": {"threshold": "0", "ratio": "0.80",
                                "scopes": ["inpatient", "community_outpatient", "special_outpatient"]},
            "minimum_living": {"threshold": "7000", "ratio": "0.70",
                               "scopes": ["inpatient", "community_outpatient", "special_outpatient"]},
            "registered_poor": {"threshold": "7000", "ratio": "0.70",
                                "scopes": ["inpatient", "community_outpatient", "special_outpatient"]},
            "low_income": {"threshold": "7000", "ratio": "0.60", "scopes": ["inpatient", "special_outpatient"]},
        },
    },
}  # fmt: skip


def _variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    doc.update(copy.deepcopy(changes))
    return doc


_EMPLOYEE_RULES = [
    {"med_type": "21", "kind": "hospital", "level": 3, "ratio": "0.85", "deductible": "800", "deductible_scope": "per_encounter"},
    {"med_type": "21", "kind": "hospital", "level": 2, "ratio": "0.90", "deductible": "500", "deductible_scope": "per_encounter"},
    {"med_type": "21", "level": 1, "ratio": "0.95", "deductible": "300", "deductible_scope": "per_encounter"},
    {"med_type": "11", "ratio": "0.50", "deductible": "0", "deductible_scope": "annual", "deductible_group": "outpatient",
     "annual_limit": "3000", "limit_group": "general_outpatient"},
    {"med_type": "11", "kind": "community", "ratio": "0.70", "deductible": "0", "deductible_scope": "annual",
     "deductible_group": "outpatient", "annual_limit": "3000", "limit_group": "general_outpatient"},
    {"med_type": "14", "ratio": "0.85", "deductible": "0", "deductible_scope": "annual", "deductible_group": "special"},
    {"med_type": "41", "ratio": "0.50", "deductible": "0", "deductible_scope": "annual", "deductible_group": "outpatient",
     "annual_limit": "3000", "limit_group": "general_outpatient"},
]  # fmt: skip

#: Dongguan employees 职工: retired bonus, and the large-amount supplement 职工大额医疗费用补助.
DONGGUAN_310 = _variant(
    DONGGUAN_390,
    insutype="310",
    name="东莞市职工基本医疗保险待遇 (demo)",
    basic={"annual_cap": "600000", "retired_bonus": "0.10", "downward_referral_bonus": "0.05", "rules": _EMPLOYEE_RULES},
    critical_illness={
        "med_types": ["21", "14"],
        "deductible": "0",
        "segments": [{"up_to": None, "ratio": "0.90"}],
        "annual_cap": "500000",
        "tilt": None,
    },
)

#: Zhongshan residents (seed 000): one chosen site, all sites with supplementary insurance.
ZHONGSHAN_390 = _variant(
    DONGGUAN_390,
    region="442000",
    name="中山市城乡居民基本医疗保险待遇 (demo)",
    special_disease_sites={"max_sites": 1, "require_community": False, "all_sites_if_supplementary": True},
    cross_region={"filed_ratio_delta": "0", "unfiled": "ratio_delta", "unfiled_ratio_delta": "-0.15",
                  "cross_province_outpatient": True},
    secondary_aid=None,
)  # fmt: skip
#: Seed 000: hypertension and diabetes may be certified at any city- or town-level designated
#: institution (level ≥ 1); AIDS only at the institution the health authority designates
#: (here 中山市人民医院), and treated there only; tumours are treated at hospitals.
ZHONGSHAN_390["special_diseases"] = {
    "M03900": {"name": "高血压", "class": 2, "annual_limit": "2000", "certified_by": {"min_level": 1},
               "treated_by": "any", "diagnoses": ["I10", "I11", "I12", "I13", "I15"]},
    "M01600": {"name": "糖尿病", "class": 2, "annual_limit": "3000", "certified_by": {"min_level": 1},
               "treated_by": "any", "diagnoses": ["E10", "E11", "E12", "E13", "E14"]},
    "M00500": {"name": "恶性肿瘤门诊治疗", "class": 1, "ratio": "0.85", "certified_by": {"kinds": ["hospital"]},
               "treated_by": {"kinds": ["hospital"]}},
    "M02300": {"name": "艾滋病", "class": 1, "ratio": "0.90", "certified_by": {"institutions": ["H44200000001"]},
               "treated_by": {"institutions": ["H44200000001"]}, "diagnoses": ["B20", "B21", "B22", "B23", "B24"]},
}  # fmt: skip

#: Zhongshan employees: up to 3 sites, at least one community site.
ZHONGSHAN_310 = _variant(
    DONGGUAN_310,
    region="442000",
    name="中山市职工基本医疗保险待遇 (demo)",
    special_disease_sites={"max_sites": 3, "require_community": True, "all_sites_if_supplementary": False},
    secondary_aid=None,
)

#: Suining residents (seed 002): downward-referral bonus 5%, fallback 兜底 holding registered poor to 10%.
SUINING_390 = _variant(
    DONGGUAN_390,
    region="510900",
    name="遂宁市城乡居民基本医疗保险待遇 (demo)",
    cross_region={"filed_ratio_delta": "0", "unfiled": "reject", "unfiled_ratio_delta": None,
                  "cross_province_outpatient": False},
    fallback={"categories": ["registered_poor"], "med_types": ["21"], "max_personal_share": "0.10",
              "same_region_only": True},
    secondary_aid=None,
)  # fmt: skip
SUINING_390["basic"]["downward_referral_bonus"] = "0.05"
#: Seed 002: the poor's chronic list is longer (here one of its 12 extra diseases), with an annual
#: limit by contribution tier 缴费档次: 1,500 at tier 1, 3,000 at tier 2.
SUINING_390["special_diseases"]["M07900"] = {
    "name": "慢性阻塞性肺疾病(贫困人口)", "class": 2, "annual_limit": {"1": "1500", "2": "3000"},
    "aid_categories": ["registered_poor"], "diagnoses": ["J44"],
}  # fmt: skip
SUINING_390["special_diseases"]["M03900"] = {
    "name": "高血压", "class": 2, "annual_limit": "2000", "diagnoses": ["I10", "I11", "I12", "I13", "I15"],
}  # fmt: skip

#: Suining employees.
SUINING_310 = _variant(
    DONGGUAN_310,
    region="510900",
    name="遂宁市职工基本医疗保险待遇 (demo)",
    cross_region=SUINING_390["cross_region"],
    secondary_aid=None,
)

DEMO_POLICIES: tuple[dict[str, Any], ...] = (
    DONGGUAN_390, DONGGUAN_310, ZHONGSHAN_390, ZHONGSHAN_310, SUINING_390, SUINING_310,
)
