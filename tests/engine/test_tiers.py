"""Contribution tiers resolved before the engine (app/engine/tiers.py): pure, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from app.engine.model import (
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Refusal,
    SettlementContext,
    SpecialDiseaseRegistration,
    Tiered,
    CatalogItem,
)
from app.engine.policy_doc import policy_from_document
from app.engine.tiers import person_tier, resolve_policy_for_tier, settle_with_tiers

H2 = Institution("H2", "hospital", 2, "510900")
DAY = dt.date(2026, 3, 10)


def doc(cap: object = "300000") -> dict:
    return {
        "region": "510900", "insutype": "390", "effective_from": "2026-01-01",
        "basic": {"annual_cap": cap, "rules": [
            {"med_type": "21", "ratio": "0.80", "deductible": "500", "deductible_scope": "per_encounter"},
            {"med_type": "14", "ratio": "0.90", "deductible": "0", "deductible_scope": "annual",
             "deductible_group": "special"},
        ]},
        "special_diseases": {
            "M07900": {"name": "COPD", "class": 2, "annual_limit": {"1": "1500", "2": "3000"},
                       "aid_categories": ["registered_poor"], "diagnoses": ["J44"]},
        },
    }  # fmt: skip


def ctx(tier: int | None, policy, registered: bool = True) -> SettlementContext:
    person = Person("P", "510900", (Enrollment("390", dt.date(2020, 1, 1), None, tier),), aid_category="registered_poor")
    regs = (SpecialDiseaseRegistration("M07900", dt.date(2026, 1, 1), dt.date(2026, 12, 31), ("H2",)),) if registered else ()
    return SettlementContext(person, H2, policy, {"X": CatalogItem("X", "x", "A")}, registrations=regs)


def special(amount: str) -> Encounter:
    return Encounter("14", DAY, (FeeLine(1, "X", D("1"), D(amount)),), special_disease="M07900")


def test_policy_from_document_keeps_tier_maps_and_lists_the_tiers() -> None:
    policy = policy_from_document(doc())
    assert policy.tiers == (1, 2)
    assert policy.special_diseases["M07900"].annual_limit == Tiered({1: D("1500"), 2: D("3000")})
    assert policy_from_document({**doc(), "special_diseases": {}}).tiers == ()


def test_resolution_picks_the_tier_amount_and_refuses_an_unresolved_needed_one() -> None:
    policy = policy_from_document(doc())
    for tier, limit in ((1, D("1500")), (2, D("3000"))):
        resolved = resolve_policy_for_tier(policy, tier, med_type="14", special_disease="M07900", institution=H2)
        assert resolved.special_diseases["M07900"].annual_limit == limit
    for tier in (None, 3):
        refused = resolve_policy_for_tier(policy, tier, med_type="14", special_disease="M07900", institution=H2)
        assert isinstance(refused, Refusal) and refused.code == "tier_not_covered"
    # An inpatient encounter does not read the disease's limit: no refusal without a tier.
    inpatient = resolve_policy_for_tier(policy, None, med_type="21", special_disease=None, institution=H2)
    assert not isinstance(inpatient, Refusal)
    # A tiered basic cap is needed whenever a rule matches; a pharmacy purchase (41) matches none here.
    capped = policy_from_document(doc({"1": "1000", "2": "2000"}))
    assert isinstance(resolve_policy_for_tier(capped, None, med_type="21", special_disease=None, institution=H2), Refusal)
    pharmacy = Institution("P", "pharmacy", None, "510900")
    assert not isinstance(resolve_policy_for_tier(capped, None, med_type="41", special_disease=None, institution=pharmacy), Refusal)


def test_settle_with_tiers_numbers_and_order() -> None:
    policy = policy_from_document(doc())
    # tier 1: 2000.00 × 90 % = 1800.00 → 1500.00; over_cap 300.00.
    r = settle_with_tiers(special("2000"), ctx(1, policy))
    assert (r.totals.basic_fund, r.totals.over_cap) == (D("1500.00"), D("300.00"))
    # tier 2: 4000.00 × 90 % = 3600.00 → 3000.00; over_cap 600.00.
    r = settle_with_tiers(special("4000"), ctx(2, policy))
    assert (r.totals.basic_fund, r.totals.over_cap) == (D("3000.00"), D("600.00"))
    assert settle_with_tiers(special("100"), ctx(None, policy)).code == "tier_not_covered"
    # Refusals before tier_not_covered in §7 win over it.
    assert settle_with_tiers(special("100"), ctx(None, policy, registered=False)).code == "special_disease_not_registered"


def test_person_tier_on_the_encounter_date() -> None:
    person = Person("P", "510900", (
        Enrollment("390", dt.date(2020, 1, 1), dt.date(2026, 6, 30), 1),
        Enrollment("390", dt.date(2026, 7, 1), None, 2),
        Enrollment("310", dt.date(2020, 1, 1), None, None),
    ))  # fmt: skip
    assert person_tier(person, "390", dt.date(2026, 6, 30)) == 1
    assert person_tier(person, "390", dt.date(2026, 7, 1)) == 2
    assert person_tier(person, "310", dt.date(2026, 7, 1)) is None
