"""Contribution tiers 缴费档次 (policy.md, "contribution tiers"; seed 002).

A policy may give `basic.annual_cap`, a rule's `annual_limit` or a special disease's
`annual_limit` as a map tier → amount. The person's tier on the encounter date picks
the amount *before* the calculation runs, so `settle` keeps its shape and never sees a
map. Everything here is pure.

Order of refusals (settlement.md §7): `tier_not_covered` is the last one, so the
checks that come before it (`precheck`) run on the unresolved policy first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from app.engine.layers import match_rule
from app.engine.model import (
    SPECIAL_OUTPATIENT,
    BasicRule,
    Encounter,
    Institution,
    ItemResult,
    Person,
    Policy,
    Refusal,
    Settlement,
    SettlementContext,
    SpecialDisease,
    Tiered,
)
from app.engine.settle import precheck, settle


def person_tier(person: Person, insutype: str, day: dt.date) -> int | None:
    """The tier of the person's enrollment of `insutype` active on `day` (enrollments of
    one insutype never overlap), or None."""
    for enrollment in person.enrollments:
        if enrollment.insutype == insutype and enrollment.active_on(day):
            return enrollment.tier
    return None


def _pick(amount: Decimal | Tiered | None, tier: int | None) -> Decimal | Tiered | None:
    """The tier's amount; a map the tier does not resolve stays a map (see `resolve_policy_for_tier`)."""
    if isinstance(amount, Tiered) and tier is not None and tier in amount.amounts:
        return amount.amounts[tier]
    return amount


def resolve_policy_for_tier(
    policy: Policy,
    tier: int | None,
    *,
    med_type: str,
    special_disease: str | None,
    institution: Institution,
) -> Policy | Refusal:
    """The policy with every tiered amount replaced by `tier`'s, or `tier_not_covered` when
    the encounter needs a tiered amount that `tier` does not resolve (no tier, or a tier
    the map lacks).

    Needed, as the calculation reads them (app.engine.layers.basic_layer): when a basic
    rule matches the encounter, `basic.annual_cap`, that rule's `annual_limit` and, for a
    `14` encounter, its disease's `annual_limit`. With no matching rule basic insurance
    pays nothing and reads none of them. A tiered amount that is not needed and not
    resolved stays a map: nothing reads it.
    """
    if not policy.tiers:
        return policy
    rule = match_rule(policy.basic.rules, med_type, institution)
    if rule is not None:
        needed: list[Decimal | Tiered | None] = [policy.basic.annual_cap]
        if rule.limit_group:
            needed.append(rule.annual_limit)
        if med_type == SPECIAL_OUTPATIENT and special_disease:
            disease = policy.special_diseases.get(special_disease)
            if disease is not None:
                needed.append(disease.annual_limit)
        for amount in needed:
            if isinstance(_pick(amount, tier), Tiered):
                which = "no contribution tier" if tier is None else f"tier {tier}, which the policy does not list"
                return Refusal("tier_not_covered", f"the policy's amount depends on the contribution tier; the person has {which}")

    return _policy_for_tier(policy, tier)


#: (id(policy), tier) → (policy, resolved): the rebuilt policy depends on the policy and
#: the tier only, and rebuilding it (dataclasses.replace of every tiered rule and disease)
#: cost ≈ 30 µs a settlement. The entry holds the policy itself, so its id cannot be
#: reused while the entry lives; the dict is emptied when it grows past `_CACHE_SIZE`
#: (policy versions × tiers in force are a few dozen).
_resolved: dict[tuple[int, int | None], tuple[Policy, Policy]] = {}
_CACHE_SIZE = 256


def _policy_for_tier(policy: Policy, tier: int | None) -> Policy:
    key = (id(policy), tier)
    hit = _resolved.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    if len(_resolved) >= _CACHE_SIZE:
        _resolved.clear()
    resolved = _rebuild_for_tier(policy, tier)
    _resolved[key] = (policy, resolved)
    return resolved


def _rebuild_for_tier(policy: Policy, tier: int | None) -> Policy:
    def rule_for_tier(r: BasicRule) -> BasicRule:
        return dataclasses.replace(r, annual_limit=_pick(r.annual_limit, tier)) if isinstance(r.annual_limit, Tiered) else r

    def disease_for_tier(d: SpecialDisease) -> SpecialDisease:
        return dataclasses.replace(d, annual_limit=_pick(d.annual_limit, tier)) if isinstance(d.annual_limit, Tiered) else d

    basic = dataclasses.replace(
        policy.basic,
        annual_cap=_pick(policy.basic.annual_cap, tier),
        rules=tuple(rule_for_tier(r) for r in policy.basic.rules),
    )
    return dataclasses.replace(
        policy,
        basic=basic,
        special_diseases={code: disease_for_tier(d) for code, d in policy.special_diseases.items()},
    )


def settle_with_tiers(
    encounter: Encounter, ctx: SettlementContext, items: tuple[ItemResult, ...] | None = None
) -> Settlement | Refusal:
    """`settle`, after the person's tier has resolved the policy's tiered amounts.

    A policy without tiered amounts goes straight to `settle` (the settlement path pays
    one attribute read for tiers). Otherwise the refusals that come before
    `tier_not_covered` (§7) are given first, then the tier is resolved, then `settle`
    runs on the resolved policy.
    """
    policy = ctx.policy
    if policy is None or not policy.tiers:
        return settle(encounter, ctx, items)
    insutype = precheck(encounter, ctx)
    if isinstance(insutype, Refusal):
        return insutype
    tier = person_tier(ctx.person, insutype, encounter.encounter_date)
    resolved = resolve_policy_for_tier(
        policy,
        tier,
        med_type=encounter.med_type,
        special_disease=encounter.special_disease,
        institution=ctx.institution,
    )
    if isinstance(resolved, Refusal):
        return resolved
    return settle(encounter, dataclasses.replace(ctx, policy=resolved), items)
