"""Policy document (policy.md JSON) → engine `Policy`.

The document has already been validated by the API layer; this only converts
decimal strings to `Decimal` and blocks to dataclasses. It is pure and used by
both the service (from the stored jsonb) and the golden tests (from files).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

from app.engine.model import (
    AidCategory,
    BasicInsurance,
    BasicRule,
    CriticalIllness,
    CrossRegion,
    Fallback,
    InstitutionRule,
    MedicalAid,
    Policy,
    SecondaryAid,
    SecondaryAidCategory,
    Segment,
    SpecialDisease,
    SpecialDiseaseSites,
    Tiered,
    Tilt,
)
from app.engine.money import to_decimal


def _dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    if value is None:
        return default
    return to_decimal(value)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _amount(value: Any, tiers: set[int]) -> Decimal | Tiered | None:
    """A single amount, or a map tier → amount (policy.md, contribution tiers)."""
    if isinstance(value, Mapping):
        amounts = {int(tier): to_decimal(amount) for tier, amount in value.items()}
        tiers.update(amounts)
        return Tiered(amounts)
    return _dec(value)


def institution_rule(value: Any) -> InstitutionRule | None:
    """`certified_by` / `treated_by`: "any" (or absent) is None; else the one form given."""
    if value is None or value == "any":
        return None
    return InstitutionRule(
        min_level=int(value["min_level"]) if value.get("min_level") is not None else None,
        kinds=tuple(value["kinds"]) if value.get("kinds") is not None else None,
        institutions=tuple(value["institutions"]) if value.get("institutions") is not None else None,
    )


def policy_from_document(doc: Mapping[str, Any]) -> Policy:
    basic = doc["basic"]
    tiers: set[int] = set()
    rules = tuple(
        BasicRule(
            med_type=str(r["med_type"]),
            kind=r.get("kind"),
            level=r.get("level"),
            ratio=to_decimal(r["ratio"]),
            deductible=_dec(r.get("deductible"), Decimal("0")),
            deductible_scope=r.get("deductible_scope", "per_encounter"),
            deductible_group=r.get("deductible_group"),
            annual_limit=_amount(r.get("annual_limit"), tiers),
            limit_group=r.get("limit_group"),
        )
        for r in basic.get("rules", ())
    )
    basic_insurance = BasicInsurance(
        annual_cap=_amount(basic["annual_cap"], tiers),
        rules=rules,
        retired_bonus=_dec(basic.get("retired_bonus"), Decimal("0")),
        downward_referral_bonus=_dec(basic.get("downward_referral_bonus"), Decimal("0")),
    )

    diseases = {
        code: SpecialDisease(
            code=code,
            name=d.get("name", ""),
            disease_class=d.get("class"),
            annual_limit=_amount(d.get("annual_limit"), tiers),
            ratio=_dec(d.get("ratio")),
            certified_by=institution_rule(d.get("certified_by")),
            treated_by=institution_rule(d.get("treated_by")),
            aid_categories=tuple(d["aid_categories"]) if d.get("aid_categories") is not None else None,
            diagnoses=tuple(d.get("diagnoses") or ()),
        )
        for code, d in (doc.get("special_diseases") or {}).items()
    }

    sites_doc = doc.get("special_disease_sites")
    sites = (
        SpecialDiseaseSites(
            max_sites=int(sites_doc.get("max_sites", 1)),
            require_community=bool(sites_doc.get("require_community", False)),
            all_sites_if_supplementary=bool(sites_doc.get("all_sites_if_supplementary", False)),
        )
        if sites_doc
        else None
    )

    cr_doc = doc.get("cross_region")
    cross_region = (
        CrossRegion(
            filed_ratio_delta=_dec(cr_doc.get("filed_ratio_delta"), Decimal("0")),
            unfiled=cr_doc.get("unfiled", "ratio_delta"),
            unfiled_ratio_delta=_dec(cr_doc.get("unfiled_ratio_delta"), Decimal("0")),
            cross_province_outpatient=bool(cr_doc.get("cross_province_outpatient", False)),
        )
        if cr_doc
        else None
    )

    ci_doc = doc.get("critical_illness")
    critical_illness = None
    if ci_doc:
        tilt_doc = ci_doc.get("tilt")
        critical_illness = CriticalIllness(
            med_types=tuple(ci_doc.get("med_types", ())),
            deductible=to_decimal(ci_doc.get("deductible", "0")),
            segments=tuple(
                Segment(up_to=_dec(s.get("up_to")), ratio=to_decimal(s["ratio"]))
                for s in ci_doc.get("segments", ())
            ),
            annual_cap=_dec(ci_doc.get("annual_cap")),
            tilt=Tilt(
                categories=tuple(tilt_doc.get("categories", ())),
                deductible_factor=_dec(tilt_doc.get("deductible_factor"), Decimal("1")),
                ratio_bonus=_dec(tilt_doc.get("ratio_bonus"), Decimal("0")),
                no_cap=bool(tilt_doc.get("no_cap", False)),
            )
            if tilt_doc
            else None,
        )

    aid_doc = doc.get("medical_aid")
    medical_aid = (
        MedicalAid(
            med_types=tuple(aid_doc.get("med_types", ())),
            categories={
                name: AidCategory(
                    threshold=_dec(c.get("threshold"), Decimal("0")),
                    ratio=to_decimal(c["ratio"]),
                    annual_cap=_dec(c.get("annual_cap")),
                )
                for name, c in (aid_doc.get("categories") or {}).items()
            },
        )
        if aid_doc
        else None
    )

    fb_doc = doc.get("fallback")
    fallback = (
        Fallback(
            categories=tuple(fb_doc.get("categories", ())),
            med_types=tuple(fb_doc.get("med_types", ())),
            max_personal_share=to_decimal(fb_doc["max_personal_share"]),
            same_region_only=bool(fb_doc.get("same_region_only", True)),
        )
        if fb_doc
        else None
    )

    sa_doc = doc.get("secondary_aid")
    secondary_aid = (
        SecondaryAid(
            annual_cap=_dec(sa_doc.get("annual_cap")),
            categories={
                name: SecondaryAidCategory(
                    threshold=_dec(c.get("threshold"), Decimal("0")),
                    ratio=to_decimal(c["ratio"]),
                    scopes=tuple(c.get("scopes", ())),
                )
                for name, c in (sa_doc.get("categories") or {}).items()
            },
        )
        if sa_doc
        else None
    )

    return Policy(
        region=str(doc["region"]),
        insutype=str(doc["insutype"]),
        effective_from=_date(doc["effective_from"]),
        name=doc.get("name", ""),
        basic=basic_insurance,
        special_diseases=diseases,
        special_disease_sites=sites,
        cross_region=cross_region,
        critical_illness=critical_illness,
        medical_aid=medical_aid,
        fallback=fallback,
        secondary_aid=secondary_aid,
        tiers=tuple(sorted(tiers)),
    )
