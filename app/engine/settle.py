"""settle(encounter, context) → Settlement | Refusal — the whole of settlement.md."""

from __future__ import annotations

from decimal import Decimal

from app.engine.classify import classify_line
from app.engine.layers import (
    RatioAdjustments,
    basic_layer,
    critical_illness_layer,
    fallback_layer,
    medical_aid_layer,
    personal_account_layer,
    secondary_aid_layer,
)
from app.engine.model import (
    COMMUNITY,
    EMPLOYEE,
    HOSPITAL,
    INPATIENT,
    OUTPATIENT_MED_TYPES,
    PHARMACY,
    PHARMACY_PURCHASE,
    SPECIAL_OUTPATIENT,
    TOTAL_FIELDS,
    ZERO,
    Encounter,
    FundLine,
    Institution,
    ItemResult,
    Person,
    Refusal,
    Settlement,
    SettlementContext,
    SpecialDiseaseRegistration,
    Totals,
)
from app.engine.money import CENT, round2

# Which encounter types each kind of institution may settle (§1).
ALLOWED_MED_TYPES = {
    HOSPITAL: frozenset({"11", SPECIAL_OUTPATIENT, INPATIENT}),
    COMMUNITY: frozenset({"11", SPECIAL_OUTPATIENT, INPATIENT}),
    PHARMACY: frozenset({PHARMACY_PURCHASE, SPECIAL_OUTPATIENT}),
}

# National fund codes 基金支付类型 (api.md)
FUND_CODES = {
    ("basic", EMPLOYEE): "310100",
    ("basic", "390"): "390100",
    ("critical_illness", EMPLOYEE): "330100",
    ("critical_illness", "390"): "390200",
    ("medical_aid", None): "610100",
    ("secondary_aid", None): "610102",
    ("fallback", None): "999997",
    ("personal_account", None): "310200",
}


def province_of(region: str) -> str:
    return region[:2] + "0000"


def resolve_insutype(encounter: Encounter, person: Person) -> str | Refusal:
    """The insutype the encounter settles under (its policy is that insutype's)."""
    day = encounter.encounter_date
    active = [e for e in person.enrollments if e.active_on(day)]
    if encounter.insutype is None:
        kinds = sorted({e.insutype for e in active})
        if not kinds:
            return Refusal("not_insured", "no enrollment is active on the encounter date")
        if len(kinds) > 1:
            return Refusal("validation_error", "the person has several active enrollments: insutype is required")
        return kinds[0]
    if not any(e.insutype == encounter.insutype for e in active):
        return Refusal("not_insured", f"no {encounter.insutype} enrollment is active on the encounter date")
    return encounter.insutype


def check_access(encounter: Encounter, ctx: SettlementContext, insutype: str) -> Refusal | None:
    """The refusals of §7–§8 after the policy is known, in the order of §7."""
    inst = ctx.institution
    person = ctx.person
    policy = ctx.policy
    assert policy is not None
    med_type = encounter.med_type
    day = encounter.encounter_date

    if not inst.active:
        return Refusal("institution_inactive", "the institution is not an active designated institution")
    if med_type not in ALLOWED_MED_TYPES.get(inst.kind, frozenset()):
        return Refusal("med_type_not_allowed", f"a {inst.kind} may not settle med_type {med_type}")
    cross_region = inst.region != person.insured_region
    cross_province = inst.region[:2] != person.insured_region[:2]
    rules = policy.cross_region
    if cross_province and med_type in OUTPATIENT_MED_TYPES and not (rules and rules.cross_province_outpatient):
        return Refusal("med_type_not_allowed", "outpatient settlement across provinces is not open for this policy")
    if cross_region and rules is not None and rules.unfiled == "reject" and not is_filed(ctx, day):
        return Refusal("cross_region_not_filed", "treatment outside the insured region needs a cross-region filing")
    if med_type == SPECIAL_OUTPATIENT:
        disease = policy.special_diseases.get(encounter.special_disease) if encounter.special_disease else None
        if (
            disease is not None
            and disease.aid_categories is not None
            and person.aid_category not in disease.aid_categories
        ):
            return Refusal("disease_not_covered", "the disease is open only to persons of certain aid categories")
        registrations = [
            r
            for r in ctx.registrations
            if r.disease_code == encounter.special_disease and r.valid_from <= day <= r.valid_to
        ]
        if not registrations:
            return Refusal("special_disease_not_registered", "no active special-disease registration for this disease")
        if not any(site_covers(r, inst) for r in registrations):
            return Refusal("site_not_chosen", "the institution is not one of the registration's chosen sites")
        if disease is not None and disease.treated_by is not None and not disease.treated_by.admits(inst):
            # treated_by (seed 000): an "all" registration opens only the qualifying
            # institutions, and a named site that no longer qualifies does not either.
            return Refusal("site_not_chosen", "the institution does not qualify to treat this disease")
    if encounter.has_referral:
        ref = ctx.referral
        if (
            ref is None
            or ref.consumed
            or ref.person_id != person.person_id
            or ref.to_institution != inst.code
            or med_type != INPATIENT
            or not (ref.valid_from <= day <= ref.valid_to)
        ):
            return Refusal("referral_invalid", "the referral does not apply to this encounter")
    return None


def site_covers(registration: SpecialDiseaseRegistration, inst: Institution) -> bool:
    """选点: the institution is one of the registration's chosen sites.

    A registration open to all sites covers medical institutions only; a pharmacy
    settles 14 only where it was chosen by name (§1; seed 000: 所有定点医疗机构).
    """
    if registration.sites is None:
        return inst.kind != PHARMACY
    return inst.code in registration.sites


def is_filed(ctx: SettlementContext, day) -> bool:
    region = ctx.institution.region
    province = province_of(region)
    return any(
        f.valid_from <= day <= f.valid_to and f.region in (region, province) for f in ctx.filings
    )


def classify_items(encounter: Encounter, ctx: SettlementContext) -> tuple[ItemResult, ...]:
    """§3 for every line: depends on the encounter, the catalog and the institution only,
    never on the policy or the accumulators (a simulation reuses it across its runs)."""
    inst = ctx.institution
    return tuple(classify_line(line, ctx.catalog.get(line.code), encounter, inst) for line in encounter.lines)


def precheck(encounter: Encounter, ctx: SettlementContext) -> str | Refusal:
    """The refusals before any amount is computed (§2, §7, §8), in the order of §7;
    the insutype the encounter settles under when there is none."""
    insutype = resolve_insutype(encounter, ctx.person)
    if isinstance(insutype, Refusal):
        return insutype
    if ctx.policy is None:
        return Refusal("no_policy", "no policy of the insured region is in force on the encounter date")
    refusal = check_access(encounter, ctx, insutype)
    if refusal is not None:
        return refusal
    return insutype


def settle(
    encounter: Encounter, ctx: SettlementContext, items: tuple[ItemResult, ...] | None = None
) -> Settlement | Refusal:
    """`items`: `classify_items(encounter, ctx)` when the caller already has it."""
    insutype = precheck(encounter, ctx)
    if isinstance(insutype, Refusal):
        return insutype
    policy = ctx.policy
    assert policy is not None

    person = ctx.person
    inst = ctx.institution
    acc = ctx.accumulators
    med_type = encounter.med_type
    category = person.aid_category

    # §3 items
    if items is None:
        items = classify_items(encounter, ctx)
    # The sums of the lines, each added in line order from zero (what sum() would do).
    total = self_pay_full = over_limit = pre_self_pay = in_scope = ZERO
    for i in items:
        total += i.amount
        self_pay_full += i.self_pay_full
        over_limit += i.over_limit
        pre_self_pay += i.pre_self_pay
        in_scope += i.in_scope

    # §7 cross-region and §8 referral adjustments
    cross_region = inst.region != person.insured_region
    delta = ZERO
    if cross_region and policy.cross_region is not None:
        rules = policy.cross_region
        delta = rules.filed_ratio_delta if is_filed(ctx, encounter.encounter_date) else rules.unfiled_ratio_delta
    ref = ctx.referral if encounter.has_referral else None
    adjustments = RatioAdjustments(
        retired=person.retired,
        downward_referral=ref is not None and ref.direction == "downward",
        upward_referral=ref is not None and ref.direction == "upward",
        origin_deductible=ref.origin_deductible if ref is not None else ZERO,
        cross_region_delta=delta,
        cross_region=cross_region,
    )

    # §4 basic
    basic = basic_layer(
        in_scope, policy, med_type, encounter.special_disease, insutype, inst, adjustments, acc
    )
    # §5 critical illness
    ci_base = basic.deductible + basic.pool_self_pay + basic.over_cap
    ci = critical_illness_layer(ci_base, policy.critical_illness, med_type, category, acc)
    # §6 medical aid
    aid_base = pre_self_pay + basic.deductible + basic.pool_self_pay + basic.over_cap - ci.amount
    aid = medical_aid_layer(aid_base, policy.medical_aid, med_type, category, acc)
    # §6 fallback
    policy_cost = pre_self_pay + in_scope
    fallback = fallback_layer(
        policy_cost, basic.basic_fund + ci.amount + aid.amount, policy.fallback, med_type, category, cross_region
    )
    # §6 secondary aid
    sa_base = total - basic.basic_fund - ci.amount - aid.amount - fallback.amount
    sa = secondary_aid_layer(sa_base, policy.secondary_aid, med_type, inst, category, acc)
    # §9 personal account and cash
    fund_total = basic.basic_fund + ci.amount + aid.amount + fallback.amount + sa.amount
    personal_total = total - fund_total
    account = personal_account_layer(
        personal_total, insutype, person.account_balance, encounter.use_personal_account
    )
    cash = personal_total - account.amount

    totals = Totals(
        total=round2(total),
        self_pay_full=round2(self_pay_full),
        over_limit=round2(over_limit),
        pre_self_pay=round2(pre_self_pay),
        in_scope=round2(in_scope),
        deductible=round2(basic.deductible),
        pool_self_pay=round2(basic.pool_self_pay),
        over_cap=round2(basic.over_cap),
        basic_fund=round2(basic.basic_fund),
        critical_illness=round2(ci.amount),
        medical_aid=round2(aid.amount),
        fallback=round2(fallback.amount),
        secondary_aid=round2(sa.amount),
        fund_total=round2(fund_total),
        personal_total=round2(personal_total),
        personal_account=round2(account.amount),
        cash=round2(cash),
    )

    funds: list[FundLine] = []
    for fund, amount, basis, text in (
        ("basic", basic.basic_fund, in_scope, basic.explanation),
        ("critical_illness", ci.amount, ci.basis, ci.explanation),
        ("medical_aid", aid.amount, aid.basis, aid.explanation),
        ("fallback", fallback.amount, fallback.basis, fallback.explanation),
        ("secondary_aid", sa.amount, sa.basis, sa.explanation),
        ("personal_account", account.amount, account.basis, account.explanation),
    ):
        if amount > 0:
            code = FUND_CODES.get((fund, insutype)) or FUND_CODES[(fund, None)]
            funds.append(FundLine(fund, code, round2(amount), round2(basis), text))

    deltas: dict[str, Decimal] = {}
    for part in (basic.deltas, ci.deltas, aid.deltas, sa.deltas, account.deltas):
        for name, amount in part.items():
            deltas[name] = deltas.get(name, ZERO) + amount

    result = Settlement(
        insutype=insutype,
        med_type=med_type,
        accumulation_year=encounter.encounter_date.year,
        policy_version=policy.version,
        cross_region=cross_region,
        items=items,
        totals=totals,
        funds=tuple(funds),
        deltas={k: round2(v) for k, v in deltas.items() if v},
    )
    check_invariants(result)
    return result


class InvariantBroken(AssertionError):
    """A §11 identity failed: a bug in the engine, never a user error."""


#: `_CENT_QUANTUM(x)`: x has exactly the exponent -2 (two decimal places); False for NaN and
#: infinities. The same test as ``x.as_tuple().exponent == -2``, without building the tuple.
_CENT_QUANTUM = CENT.same_quantum


def check_invariants(result: Settlement) -> None:
    """§11: asserted on every result before it leaves the engine."""
    t = result.totals
    totals = (
        t.total, t.self_pay_full, t.over_limit, t.pre_self_pay, t.in_scope, t.deductible, t.pool_self_pay,
        t.over_cap, t.basic_fund, t.critical_illness, t.medical_aid, t.fallback, t.secondary_aid, t.fund_total,
        t.personal_total, t.personal_account, t.cash,
    )  # every field of Totals, in TOTAL_FIELDS order (asserted below)  # fmt: skip
    # Totals are quantized to the cent: exactly two decimal places (exponent -2), so a
    # rule that produced sub-cent money (or a total left unrounded) fails here. Checked for
    # all totals at once; on a failure, the first offending total is named.
    if not all(map(_CENT_QUANTUM, totals)) or min(totals) < 0:
        for amount in totals:
            if amount < 0 or not _CENT_QUANTUM(amount):
                raise InvariantBroken(f"total {amount} is negative or not to two decimals")
    for item in result.items:
        s, o, p, i = item.self_pay_full, item.over_limit, item.pre_self_pay, item.in_scope
        if s < 0 or o < 0 or p < 0 or i < 0 or item.amount != ZERO + s + o + p + i:
            raise InvariantBroken(f"line {item.line_no} does not split into non-negative parts")
    # The encounter totals are computed as the sums of these very lines (settle above),
    # so "lines sum to totals" holds by construction; tests/engine/test_properties.py
    # checks it from outside. What can still break is asserted here.
    checks = (
        t.total == t.self_pay_full + t.over_limit + t.pre_self_pay + t.in_scope,
        t.in_scope == t.deductible + t.pool_self_pay + t.over_cap + t.basic_fund,
        t.total == t.fund_total + t.personal_account + t.cash,
        t.fund_total == t.basic_fund + t.critical_illness + t.medical_aid + t.fallback + t.secondary_aid,
    )
    if not all(checks):
        raise InvariantBroken(f"settlement identities do not hold: {checks}")


# check_invariants names every total: a field added to Totals must be added there too.
assert TOTAL_FIELDS == (
    "total", "self_pay_full", "over_limit", "pre_self_pay", "in_scope", "deductible", "pool_self_pay", "over_cap",
    "basic_fund", "critical_illness", "medical_aid", "fallback", "secondary_aid", "fund_total", "personal_total",
    "personal_account", "cash",
)  # fmt: skip
