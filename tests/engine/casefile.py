"""Golden case files → engine inputs, and the checks shared by the engine tests.

A case file (`tests/engine/cases/*.json`) is plain JSON with every amount a
decimal string; a float anywhere in it is refused when the file is read.

    {
      "name": "...", "why": ["hand arithmetic", ...],
      "policy": "dongguan_390" | {inline policy document} | null,
      "policy_patch": {...},            # optional: merged into the named policy
      "institution": {...}, "person": {...},
      "catalog": {code: item | null}, "accumulators": {name: "amount"},
      "registrations": [...], "filings": [...], "referral": {...} | null,
      "encounter": {...},
      "expected": {"refusal": "code"}
               | {"totals": {17 fields}, "items": [...], "deltas": {...}, "funds": {...},
                  "cross_region": bool (optional), "insutype": "390" (optional)}
    }

`policy_patch` is a JSON merge: objects merge key by key, anything else
(lists, strings, null) replaces what was there.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from app.engine.model import (
    TOTAL_FIELDS,
    Accumulators,
    CatalogItem,
    CrossRegionFiling,
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Referral,
    Restriction,
    Settlement,
    SettlementContext,
    SpecialDiseaseRegistration,
)
from app.engine.policy_doc import policy_from_document

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
POLICIES_DIR = HERE / "policies"

CENT_EXPONENT = -2

# fund name -> national fund_pay_type, per insutype where it differs
FUND_PAY_TYPES: dict[str, dict[str, str]] = {
    "basic": {"310": "310100", "390": "390100"},
    "critical_illness": {"310": "330100", "390": "390200"},
    "medical_aid": {"310": "610100", "390": "610100"},
    "secondary_aid": {"310": "610102", "390": "610102"},
    "fallback": {"310": "999997", "390": "999997"},
    "personal_account": {"310": "310200", "390": "310200"},
}

# Totals field that each fund line mirrors
FUND_TOTAL_FIELD = {
    "basic": "basic_fund",
    "critical_illness": "critical_illness",
    "medical_aid": "medical_aid",
    "fallback": "fallback",
    "secondary_aid": "secondary_aid",
    "personal_account": "personal_account",
}


def _no_float(text: str) -> Decimal:
    raise ValueError(f"float literal {text!r} in a case file: write amounts as strings")


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh, parse_float=_no_float)


def D(value: Any) -> Decimal:
    """Decimal from a string (or int) — never from a float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"refusing {value!r} as money")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        return Decimal(value)
    raise TypeError(f"refusing {value!r} as money")


def _opt_D(value: Any) -> Decimal | None:
    return None if value is None else D(value)


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _opt_date(value: str | None) -> dt.date | None:
    return None if value is None else _date(value)


def _tuple(value: Any) -> tuple | None:
    return None if value is None else tuple(value)


def merge_patch(base: Any, patch: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def policy_document(name_or_doc: Any, patch: Mapping[str, Any] | None = None) -> dict | None:
    if name_or_doc is None:
        return None
    if isinstance(name_or_doc, str):
        stem = name_or_doc[:-5] if name_or_doc.endswith(".json") else name_or_doc
        doc = read_json(POLICIES_DIR / f"{stem}.json")
    else:
        doc = copy.deepcopy(name_or_doc)
    if patch:
        doc = merge_patch(doc, patch)
    return doc


def load_policy(name_or_doc: Any, patch: Mapping[str, Any] | None = None):
    doc = policy_document(name_or_doc, patch)
    return None if doc is None else policy_from_document(doc)


# --------------------------------------------------------------------------- builders


def build_institution(d: Mapping[str, Any]) -> Institution:
    return Institution(
        code=d["code"],
        kind=d["kind"],
        level=d.get("level"),
        region=d["region"],
        active=d.get("active", True),
    )


def build_person(d: Mapping[str, Any]) -> Person:
    return Person(
        person_id=d["person_id"],
        insured_region=d["insured_region"],
        enrollments=tuple(
            Enrollment(
                insutype=e["insutype"],
                valid_from=_date(e["valid_from"]),
                valid_to=_opt_date(e.get("valid_to")),
            )
            for e in d["enrollments"]
        ),
        retired=d.get("retired", False),
        supplementary=d.get("supplementary", False),
        aid_category=d.get("aid_category"),
        account_balance=D(d.get("account_balance", "0")),
    )


def build_restriction(d: Mapping[str, Any] | None) -> Restriction | None:
    if d is None:
        return None
    return Restriction(
        med_types=_tuple(d.get("med_types")),
        diagnoses=_tuple(d.get("diagnoses")),
        special_diseases=_tuple(d.get("special_diseases")),
        min_level=d.get("min_level"),
    )


def build_catalog(d: Mapping[str, Any]) -> dict[str, CatalogItem | None]:
    catalog: dict[str, CatalogItem | None] = {}
    for code, item in d.items():
        if item is None:
            catalog[code] = None
            continue
        catalog[code] = CatalogItem(
            code=code,
            name=item.get("name", code),
            category=item["category"],
            self_pay_ratio=D(item.get("self_pay_ratio", "0")),
            price_cap=_opt_D(item.get("price_cap")),
            restriction=build_restriction(item.get("restriction")),
            region=item.get("region", "000000"),
        )
    return catalog


def build_accumulators(d: Mapping[str, Any] | None) -> Accumulators:
    return Accumulators({name: D(v) for name, v in (d or {}).items()})


def build_registrations(items: Any) -> tuple[SpecialDiseaseRegistration, ...]:
    return tuple(
        SpecialDiseaseRegistration(
            disease_code=r["disease_code"],
            valid_from=_date(r["valid_from"]),
            valid_to=_date(r["valid_to"]),
            sites=_tuple(r.get("sites")),
        )
        for r in items or ()
    )


def build_filings(items: Any) -> tuple[CrossRegionFiling, ...]:
    return tuple(
        CrossRegionFiling(region=f["region"], valid_from=_date(f["valid_from"]), valid_to=_date(f["valid_to"]))
        for f in items or ()
    )


def build_referral(d: Mapping[str, Any] | None) -> Referral | None:
    if d is None:
        return None
    return Referral(
        person_id=d["person_id"],
        to_institution=d["to_institution"],
        direction=d["direction"],
        valid_from=_date(d["valid_from"]),
        valid_to=_date(d["valid_to"]),
        origin_deductible=D(d.get("origin_deductible", "0")),
        consumed=d.get("consumed", False),
    )


def build_encounter(d: Mapping[str, Any]) -> Encounter:
    return Encounter(
        med_type=d["med_type"],
        encounter_date=_date(d["encounter_date"]),
        lines=tuple(
            FeeLine(
                line_no=line["line_no"],
                code=line["code"],
                qty=D(line["qty"]),
                unit_price=D(line["unit_price"]),
                name=line.get("name"),
            )
            for line in d["lines"]
        ),
        insutype=d.get("insutype"),
        diagnoses=tuple(d.get("diagnoses", ())),
        special_disease=d.get("special_disease"),
        use_personal_account=d.get("use_personal_account", True),
        has_referral=d.get("has_referral", False),
    )


def build_inputs(case: Mapping[str, Any]) -> tuple[Encounter, SettlementContext]:
    ctx = SettlementContext(
        person=build_person(case["person"]),
        institution=build_institution(case["institution"]),
        policy=load_policy(case.get("policy"), case.get("policy_patch")),
        catalog=build_catalog(case.get("catalog", {})),
        accumulators=build_accumulators(case.get("accumulators")),
        registrations=build_registrations(case.get("registrations")),
        filings=build_filings(case.get("filings")),
        referral=build_referral(case.get("referral")),
    )
    return build_encounter(case["encounter"]), ctx


def case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.json"))


def load_case(path: Path) -> dict:
    return read_json(path)


# --------------------------------------------------------------------------- §11 checks


def identity_problems(s: Settlement) -> list[str]:
    """The §11 invariants of one settlement, as a list of what is broken."""
    t = s.totals
    out: list[str] = []
    for name in TOTAL_FIELDS:
        value = getattr(t, name)
        if not isinstance(value, Decimal):
            out.append(f"totals.{name} is {type(value).__name__}, not Decimal")
            continue
        if value < 0:
            out.append(f"totals.{name} = {value} < 0")
        if value.as_tuple().exponent != CENT_EXPONENT:
            out.append(f"totals.{name} = {value} has not exactly two decimals")
    if t.total != t.self_pay_full + t.over_limit + t.pre_self_pay + t.in_scope:
        out.append("total != self_pay_full + over_limit + pre_self_pay + in_scope")
    if t.in_scope != t.deductible + t.pool_self_pay + t.over_cap + t.basic_fund:
        out.append("in_scope != deductible + pool_self_pay + over_cap + basic_fund")
    fund_total = t.basic_fund + t.critical_illness + t.medical_aid + t.fallback + t.secondary_aid
    if t.fund_total != fund_total:
        out.append("fund_total != basic + ci + aid + fallback + sa")
    if t.personal_total != t.total - t.fund_total:
        out.append("personal_total != total - fund_total")
    if t.total != t.fund_total + t.personal_account + t.cash:
        out.append("total != fund_total + personal_account + cash")
    for field in ("self_pay_full", "over_limit", "pre_self_pay", "in_scope"):
        summed = sum((getattr(i, field) for i in s.items), Decimal("0"))
        if summed != getattr(t, field):
            out.append(f"sum of items.{field} {summed} != totals.{field} {getattr(t, field)}")
    amounts = sum((i.amount for i in s.items), Decimal("0"))
    if amounts != t.total:
        out.append(f"sum of item amounts {amounts} != total {t.total}")
    for i in s.items:
        for field in ("amount", "self_pay_full", "over_limit", "pre_self_pay", "in_scope"):
            value = getattr(i, field)
            if value < 0 or value.as_tuple().exponent != CENT_EXPONENT:
                out.append(f"item {i.line_no}.{field} = {value}")
        if i.amount != i.self_pay_full + i.over_limit + i.pre_self_pay + i.in_scope:
            out.append(f"item {i.line_no}: amount != parts")
    return out


def delta_problems(s: Settlement) -> list[str]:
    """Deltas agree with the totals (§10): paid figures equal what each layer paid."""
    t = s.totals
    d = s.deltas
    out: list[str] = []
    for name, value in d.items():
        if value == 0:
            out.append(f"zero delta {name} listed")
    pairs = {
        "basic_paid": t.basic_fund,
        "ci_paid": t.critical_illness,
        "aid_paid": t.medical_aid,
        "sa_paid": t.secondary_aid,
        "account_balance": -t.personal_account,
    }
    for name, want in pairs.items():
        if d.get(name, Decimal("0")) != want:
            out.append(f"delta {name} = {d.get(name)} but totals say {want}")
    return out
