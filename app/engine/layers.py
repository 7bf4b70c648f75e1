"""§4–§9: one function per paying layer.

Each returns the amount it pays, the base it was computed on, the accumulator
deltas it implies and a one-line explanation naming the rule and its figures.
Layers run in order; each sees what the earlier ones paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.engine.model import (
    COMMUNITY,
    EMPLOYEE,
    GENERAL_OUTPATIENT,
    INPATIENT,
    PHARMACY,
    PHARMACY_PURCHASE,
    SPECIAL_OUTPATIENT,
    ZERO,
    Accumulators,
    BasicRule,
    CriticalIllness,
    Fallback,
    Institution,
    MedicalAid,
    Policy,
    SecondaryAid,
)
from app.engine.money import clamp01, percent, round2, yuan

MED_TYPE_NAMES = {
    GENERAL_OUTPATIENT: "普通门诊",
    SPECIAL_OUTPATIENT: "门诊特定病种",
    INPATIENT: "住院",
    PHARMACY_PURCHASE: "药店购药",
}
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}

# Secondary-aid scopes 二次救助范围 (policy.md)
SCOPE_INPATIENT = "inpatient"
SCOPE_COMMUNITY_OUTPATIENT = "community_outpatient"
SCOPE_SPECIAL_OUTPATIENT = "special_outpatient"
SCOPE_PHARMACY = "pharmacy"


@dataclass(frozen=True, slots=True)
class LayerResult:
    amount: Decimal
    basis: Decimal
    explanation: str
    in_scope: bool
    deltas: dict[str, Decimal] = field(default_factory=dict)


def _cap_room(cap: Decimal | None, used: Decimal) -> Decimal | None:
    """What is left under an annual cap; None when there is no cap."""
    if cap is None:
        return None
    return max(cap - used, ZERO)


def _threshold_part(before: Decimal, after: Decimal, threshold: Decimal) -> Decimal:
    """The part of [before, after] above a cumulative annual threshold."""
    return max(ZERO, after - max(before, threshold))


def institution_level(institution: Institution) -> int | None:
    """A community institution is level 1; a pharmacy has none."""
    if institution.kind == PHARMACY:
        return None
    if institution.kind == COMMUNITY:
        return 1
    return institution.level


def institution_label(institution: Institution) -> str:
    if institution.kind == PHARMACY:
        return "药店"
    if institution.kind == COMMUNITY:
        return "社区"
    return LEVEL_NAMES.get(institution.level or 0, "")


# --------------------------------------------------------------------------- §4 basic


def match_rule(rules: tuple[BasicRule, ...], med_type: str, institution: Institution) -> BasicRule | None:
    """The matching rule naming the most of kind/level (policy.md, rule matching)."""
    level = institution_level(institution)
    best: BasicRule | None = None
    best_score = -1
    for rule in rules:
        if rule.med_type != med_type:
            continue
        if rule.kind is not None and rule.kind != institution.kind:
            continue
        if rule.level is not None and (level is None or rule.level != level):
            continue
        score = (rule.kind is not None) + (rule.level is not None)
        if score > best_score:
            best, best_score = rule, score
    return best


@dataclass(frozen=True, slots=True)
class BasicResult:
    rule: BasicRule | None
    ratio: Decimal
    deductible: Decimal
    pool_self_pay: Decimal
    over_cap: Decimal
    basic_fund: Decimal
    explanation: str
    deltas: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class RatioAdjustments:
    """What moves the basic ratio and deductible besides the rule itself."""

    retired: bool = False
    downward_referral: bool = False
    upward_referral: bool = False
    origin_deductible: Decimal = ZERO
    cross_region_delta: Decimal = ZERO
    cross_region: bool = False


def basic_layer(
    in_scope: Decimal,
    policy: Policy,
    med_type: str,
    special_disease: str | None,
    insutype: str,
    institution: Institution,
    adjustments: RatioAdjustments,
    acc: Accumulators,
) -> BasicResult:
    """基本医疗保险统筹基金 (§4)."""
    rule = match_rule(policy.basic.rules, med_type, institution)
    where = f"{MED_TYPE_NAMES.get(med_type, med_type)} {institution_label(institution)}".strip()
    if rule is None:
        # No rule: basic insurance pays nothing; the whole in-scope amount is the
        # person's, and later layers still see it.
        return BasicResult(
            rule=None,
            ratio=ZERO,
            deductible=ZERO,
            pool_self_pay=in_scope,
            over_cap=ZERO,
            basic_fund=ZERO,
            explanation=f"{where}: 无适用统筹支付规则, 基金不支付",
            deltas={},
        )

    disease = policy.special_diseases.get(special_disease) if (
        med_type == SPECIAL_OUTPATIENT and special_disease
    ) else None

    base_ratio = disease.ratio if disease is not None and disease.ratio is not None else rule.ratio
    ratio = base_ratio
    notes: list[str] = []
    if insutype == EMPLOYEE and adjustments.retired and policy.basic.retired_bonus:
        ratio += policy.basic.retired_bonus
        notes.append(f"退休 +{percent(policy.basic.retired_bonus)}")
    if adjustments.downward_referral and policy.basic.downward_referral_bonus:
        ratio += policy.basic.downward_referral_bonus
        notes.append(f"下转 +{percent(policy.basic.downward_referral_bonus)}")
    if adjustments.cross_region and adjustments.cross_region_delta:
        ratio += adjustments.cross_region_delta
        sign = "+" if adjustments.cross_region_delta > 0 else "-"
        notes.append(f"异地 {sign}{percent(abs(adjustments.cross_region_delta))}")
    ratio = clamp01(ratio)

    deltas: dict[str, Decimal] = {}
    if rule.deductible_scope == "annual":
        group = rule.deductible_group or f"med_type_{rule.med_type}"
        due = max(ZERO, rule.deductible - acc.get(f"deductible:{group}"))
    else:
        group = None
        due = rule.deductible
    if adjustments.downward_referral:
        due = ZERO
        notes.append("下转免起付线")
    elif adjustments.upward_referral:
        due = max(ZERO, due - adjustments.origin_deductible)
        notes.append(f"上转起付线连续计算 (已付 {yuan(adjustments.origin_deductible)})")

    deductible = min(in_scope, due)
    payable = in_scope - deductible
    raw = round2(payable * ratio)

    rooms = [_cap_room(policy.basic.annual_cap, acc.get("basic_paid"))]
    if rule.annual_limit is not None and rule.limit_group:
        rooms.append(_cap_room(rule.annual_limit, acc.get(f"limit:{rule.limit_group}")))
    if disease is not None and disease.annual_limit is not None:
        rooms.append(_cap_room(disease.annual_limit, acc.get(f"disease:{disease.code}")))
    limits = [r for r in rooms if r is not None]
    basic_fund = min([raw, *limits])
    pool_self_pay = payable - raw
    over_cap = raw - basic_fund

    if basic_fund:
        deltas["basic_paid"] = basic_fund
    if group is not None and deductible:
        deltas[f"deductible:{group}"] = deductible
    if rule.limit_group and basic_fund:
        deltas[f"limit:{rule.limit_group}"] = basic_fund
    if med_type == SPECIAL_OUTPATIENT and special_disease and basic_fund:
        deltas[f"disease:{special_disease}"] = basic_fund

    scope_word = "每年" if rule.deductible_scope == "annual" else "每次"
    text = f"{where} 起付线 {yuan(deductible)} ({scope_word} {yuan(rule.deductible)}), 比例 {percent(ratio)}"
    if disease is not None:
        text += f", 病种 {disease.code}"
        if disease.ratio is not None:
            text += f" 比例 {percent(disease.ratio)}"
    if notes:
        text += " (" + ", ".join(notes) + ")"
    if over_cap:
        text += f", 超封顶/限额 {yuan(over_cap)}"
    return BasicResult(
        rule=rule,
        ratio=ratio,
        deductible=deductible,
        pool_self_pay=pool_self_pay,
        over_cap=over_cap,
        basic_fund=basic_fund,
        explanation=text,
        deltas=deltas,
    )


# --------------------------------------------------------------------------- §5 critical illness


def critical_illness_layer(
    base: Decimal,
    ci: CriticalIllness | None,
    med_type: str,
    aid_category: str | None,
    acc: Accumulators,
) -> LayerResult:
    """大病保险 / 职工大额医疗费用补助 (§5), on the cumulative in-scope personal burden."""
    if ci is None or med_type not in ci.med_types:
        return LayerResult(ZERO, base, "", in_scope=False)

    tilted = ci.tilt is not None and aid_category is not None and aid_category in ci.tilt.categories
    # Not rounded: settlement.md §5 scales the deductible without rounding; only the
    # layer's pay is rounded to the cent.
    deductible = ci.deductible * ci.tilt.deductible_factor if tilted else ci.deductible
    bonus = ci.tilt.ratio_bonus if tilted else ZERO
    no_cap = tilted and ci.tilt.no_cap

    before = acc.get("ci_base")
    after = before + base
    pay = ZERO
    band_from = ZERO
    for segment in ci.segments:
        lower = deductible + band_from
        upper = None if segment.up_to is None else deductible + segment.up_to
        top = after if upper is None else min(after, upper)
        overlap = top - max(before, lower)
        if overlap > 0:
            pay += overlap * min(segment.ratio + bonus, Decimal(1))
        if segment.up_to is None:
            break
        band_from = segment.up_to

    amount = round2(pay)
    if not no_cap:
        room = _cap_room(ci.annual_cap, acc.get("ci_paid"))
        if room is not None:
            amount = min(amount, room)

    deltas: dict[str, Decimal] = {}
    if base:
        deltas["ci_base"] = base
    if amount:
        deltas["ci_paid"] = amount
    text = f"大病 起付线 {yuan(deductible)}, 累计 {yuan(before)}→{yuan(after)}"
    if tilted:
        text += f" (倾斜: 起付线×{ci.tilt.deductible_factor.normalize()}, +{percent(bonus)}"
        text += ", 不封顶)" if no_cap else ")"
    return LayerResult(amount, base, text, in_scope=True, deltas=deltas)


# --------------------------------------------------------------------------- §6 medical aid


def medical_aid_layer(
    base: Decimal, aid: MedicalAid | None, med_type: str, aid_category: str | None, acc: Accumulators
) -> LayerResult:
    """医疗救助 一次救助 (§6)."""
    category = aid.categories.get(aid_category) if (aid is not None and aid_category) else None
    if category is None or med_type not in aid.med_types:
        return LayerResult(ZERO, base, "", in_scope=False)

    return _cumulative_aid(
        base, "aid", category.threshold, category.ratio, category.annual_cap, acc, f"医疗救助 {aid_category}"
    )


def fallback_layer(
    policy_cost: Decimal,
    paid_so_far: Decimal,
    fallback: Fallback | None,
    med_type: str,
    aid_category: str | None,
    cross_region: bool,
) -> LayerResult:
    """兜底 (§6): the personal share of in-policy costs held to max_personal_share."""
    if (
        fallback is None
        or aid_category not in fallback.categories
        or med_type not in fallback.med_types
        or (fallback.same_region_only and cross_region)
    ):
        return LayerResult(ZERO, policy_cost, "", in_scope=False)
    left = policy_cost - paid_so_far
    allowed = round2(policy_cost * fallback.max_personal_share)
    amount = max(ZERO, left - allowed)
    text = f"兜底: 政策范围内个人负担 {yuan(left)} 限于 {percent(fallback.max_personal_share)} ({yuan(allowed)})"
    return LayerResult(amount, policy_cost, text, in_scope=True)


def secondary_aid_scope(med_type: str, institution: Institution) -> str | None:
    if med_type == INPATIENT:
        return SCOPE_INPATIENT
    if med_type == SPECIAL_OUTPATIENT:
        return SCOPE_SPECIAL_OUTPATIENT
    if med_type == PHARMACY_PURCHASE:
        return SCOPE_PHARMACY
    if med_type == GENERAL_OUTPATIENT and institution.kind == COMMUNITY:
        return SCOPE_COMMUNITY_OUTPATIENT
    return None


def secondary_aid_layer(
    base: Decimal,
    sa: SecondaryAid | None,
    med_type: str,
    institution: Institution,
    aid_category: str | None,
    acc: Accumulators,
) -> LayerResult:
    """二次医疗救助 (§6, Dongguan seed 001): self-pay items included."""
    category = sa.categories.get(aid_category) if (sa is not None and aid_category) else None
    scope = secondary_aid_scope(med_type, institution)
    if category is None or scope is None or scope not in category.scopes:
        return LayerResult(ZERO, base, "", in_scope=False)

    return _cumulative_aid(
        base, "sa", category.threshold, category.ratio, sa.annual_cap, acc, f"二次救助 {aid_category} {scope}"
    )


def _cumulative_aid(
    base: Decimal,
    prefix: str,
    threshold: Decimal,
    ratio: Decimal,
    annual_cap: Decimal | None,
    acc: Accumulators,
    label: str,
) -> LayerResult:
    """Aid on the part of this year's cumulative burden above a threshold, up to an annual cap.

    Shared by medical aid (`aid_base`/`aid_paid`) and secondary aid (`sa_base`/`sa_paid`):
    `after − max(before, T)` is the part of this encounter's base above the threshold.
    """
    before = acc.get(f"{prefix}_base")
    after = before + base
    amount = round2(_threshold_part(before, after, threshold) * ratio)
    room = _cap_room(annual_cap, acc.get(f"{prefix}_paid"))
    if room is not None:
        amount = min(amount, room)
    deltas: dict[str, Decimal] = {}
    if base:
        deltas[f"{prefix}_base"] = base
    if amount:
        deltas[f"{prefix}_paid"] = amount
    text = f"{label} 起付 {yuan(threshold)}, 比例 {percent(ratio)}, 累计 {yuan(before)}→{yuan(after)}"
    return LayerResult(amount, base, text, in_scope=True, deltas=deltas)


# --------------------------------------------------------------------------- §9 personal account


def personal_account_layer(
    personal_total: Decimal, insutype: str, balance: Decimal, use_account: bool
) -> LayerResult:
    """个人账户 (employees only)."""
    if insutype != EMPLOYEE or not use_account:
        return LayerResult(ZERO, personal_total, "", in_scope=False)
    amount = min(max(balance, ZERO), personal_total)
    deltas = {"account_balance": -amount} if amount else {}
    text = f"个人账户 余额 {yuan(balance)}, 支付个人负担 {yuan(personal_total)} 中 {yuan(amount)}"
    return LayerResult(amount, personal_total, text, in_scope=True, deltas=deltas)
