"""Hypothesis properties of `settle` over random policies, people, encounters and accumulators.

Claims (each a test below):

1. §11 identities hold for every settlement: every total and item amount is ≥ 0
   with exactly two decimals; total = self_pay_full + over_limit + pre_self_pay +
   in_scope; in_scope = deductible + pool_self_pay + over_cap + basic_fund;
   fund_total = basic + ci + aid + fallback + sa; total = fund_total + account +
   cash; the item lines sum to the totals. The deltas agree with the totals
   (basic_paid = basic_fund, ci_paid = ci, aid_paid = aid, sa_paid = sa,
   account_balance = −account) and list no zero.
2. Settling is deterministic (a preview equals the settlement that follows): the
   same inputs give equal results, and the inputs are not changed.
3. A reversal is the exact negation: applying the deltas and then their
   negation gives back the starting accumulators, to the cent.
4. Caps hold: starting at or below a cap, the accumulator plus this
   settlement's payment stays at or below it (basic annual cap, medical-aid and
   secondary-aid category caps, CI cap when no no-cap tilt applies); the account
   never pays more than the balance, and nothing for residents or when
   use_personal_account is false.
5. Monotonicity — adding a fee line to an encounter (same person, place, policy,
   accumulators) never lowers basic_fund, critical_illness, medical_aid,
   secondary_aid, fund_total or personal_total.  Why, from the spec (all ratios
   in [0, 1], caps and thresholds fixed by the context):
   - a new line only adds to in_scope, pre_self_pay and total (lines are
     classified independently; refusals do not depend on lines);
   - payable = max(0, in_scope − due) grows by at most Δin_scope; round2 is
     monotone and round2(x + k) = round2(x) + k for whole cents k, so
     raw = round2(payable × ratio) grows by 0..Δpayable; basic = min(raw, room)
     likewise. Hence basic grows, and the CI base in_scope − basic grows too;
   - ci = min(round2(Σ overlap × min(r + bonus, 1)), room) is monotone in the
     cumulative base and grows by at most Δci_base, so the aid base
     pre + in_scope − basic − ci grows; aid grows, by at most Δaid_base;
   - basic + ci + aid grows by at most Δ(pre + in_scope) = Δpolicy_cost, and
     basic + ci + aid + fallback = max(basic + ci + aid, policy_cost −
     round2(policy_cost × share)) — a max of two non-decreasing terms, each
     growing by at most Δpolicy_cost ≤ Δtotal. So the secondary-aid base
     total − (basic + ci + aid + fallback) grows, sa grows by at most that;
   - so fund_total grows, by at most Δtotal, and personal_total = total −
     fund_total grows too.
   NOT claimed: fallback alone is not monotone (a covered line raises the 10%
   allowance more than what is left); `test_fallback_alone_can_fall` shows it
   by hand on the Suining case. Nor is anything claimed about more *prior*
   spending (accumulators): thresholds help, caps hurt.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.model import (
    ACCUMULATOR_SCALARS,
    Accumulators,
    CatalogItem,
    CrossRegionFiling,
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Referral,
    Refusal,
    Restriction,
    Settlement,
    SettlementContext,
    SpecialDiseaseRegistration,
)
from app.engine.policy_doc import policy_from_document
from app.engine.settle import settle
from tests.engine.casefile import build_inputs, delta_problems, identity_problems, load_case, CASES_DIR

ZERO = Decimal("0")
DAY = dt.date(2026, 6, 15)
YEAR_START, YEAR_END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
CATEGORIES = ["extreme_poverty", "minimum_living", "registered_poor", "low_income"]
DISEASES = ["M03900", "M01600", "M00500"]
SCOPES = ["inpatient", "community_outpatient", "special_outpatient", "pharmacy"]
REFUSALS = {
    "validation_error", "not_insured", "no_policy", "institution_inactive", "med_type_not_allowed",
    "cross_region_not_filed", "special_disease_not_registered", "site_not_chosen", "referral_invalid",
}


def cents(lo: int, hi: int) -> st.SearchStrategy[Decimal]:
    """Amounts lo..hi yuan with two decimals."""
    return st.integers(lo * 100, hi * 100).map(lambda c: Decimal(c).scaleb(-2))


def whole(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(str)


ratio = st.one_of(st.sampled_from(["0.70", "0.80", "0.90", "0.60", "1.00"]),
                  st.integers(0, 100).map(lambda n: str(Decimal(n).scaleb(-2))))
small_delta = st.integers(-40, 10).map(lambda n: str(Decimal(n).scaleb(-2)))


# --------------------------------------------------------------------------- policy documents


@st.composite
def rule_docs(draw, med_type: str) -> list[dict]:
    """Rules for one med_type that never tie: {}, {kind}, {kind, level} (distinct kinds and pairs)."""
    def one(**named) -> dict:
        scope = draw(st.sampled_from(["per_encounter", "annual"]))
        rule = {"med_type": med_type, **named, "ratio": draw(ratio), "deductible": draw(st.one_of(st.sampled_from(["0", "100", "300", "1000"]), whole(0, 1500))),
                "deductible_scope": scope}
        if scope == "annual":
            rule["deductible_group"] = draw(st.sampled_from(["outpatient", "special", "inpatient"]))
        if draw(st.booleans()):
            rule["annual_limit"] = draw(whole(0, 5000))
            rule["limit_group"] = draw(st.sampled_from(["general_outpatient", "other"]))
        return rule

    rules = []
    if draw(st.integers(0, 3)):
        rules.append(one())
    for kind in draw(st.sets(st.sampled_from(["hospital", "community", "pharmacy"]), max_size=2)):
        rules.append(one(kind=kind))
    for level in draw(st.sets(st.sampled_from([1, 2, 3]), max_size=2)):
        rules.append(one(kind="hospital", level=level))
    return rules


@st.composite
def policy_docs(draw, insutype: str) -> dict:
    rules = []
    for med_type in ("11", "14", "21", "41"):
        rules += draw(rule_docs(med_type))
    doc: dict = {
        "region": "441900",
        "insutype": insutype,
        "effective_from": "2026-01-01",
        "basic": {
            "annual_cap": draw(whole(1000, 500000)),
            "retired_bonus": draw(st.sampled_from(["0", "0.05", "0.10"])),
            "downward_referral_bonus": draw(st.sampled_from(["0", "0.05"])),
            "rules": rules,
        },
        "special_diseases": {
            code: {"name": code, **({"annual_limit": draw(whole(0, 5000))} if draw(st.booleans()) else {}),
                   **({"ratio": draw(ratio)} if draw(st.booleans()) else {})}
            for code in draw(st.sets(st.sampled_from(DISEASES)))
        },
    }
    if draw(st.booleans()):
        unfiled = draw(st.sampled_from(["reject", "ratio_delta"]))
        doc["cross_region"] = {"filed_ratio_delta": draw(small_delta), "unfiled": unfiled,
                               "unfiled_ratio_delta": draw(small_delta),
                               "cross_province_outpatient": draw(st.booleans())}
    if draw(st.booleans()):
        bounds = sorted(draw(st.sets(st.integers(1000, 200000), max_size=2)))
        segments = [{"up_to": str(b), "ratio": draw(ratio)} for b in bounds] + [{"up_to": None, "ratio": draw(ratio)}]
        doc["critical_illness"] = {
            "med_types": sorted(draw(st.sets(st.sampled_from(["11", "14", "21", "41"])))),
            "deductible": draw(st.one_of(st.sampled_from(["0", "500", "3000"]), whole(0, 20000))),
            "segments": segments,
            "annual_cap": draw(st.one_of(st.none(), whole(0, 400000))),
            "tilt": draw(st.one_of(st.none(), st.fixed_dictionaries({
                "categories": st.lists(st.sampled_from(CATEGORIES), unique=True),
                "deductible_factor": st.sampled_from(["0.5", "1", "0.3333"]),
                "ratio_bonus": st.sampled_from(["0", "0.05", "0.50"]),
                "no_cap": st.booleans(),
            }))),
        }
    if draw(st.booleans()):
        doc["medical_aid"] = {
            "med_types": sorted(draw(st.sets(st.sampled_from(["11", "14", "21", "41"]), min_size=1))),
            "categories": {
                c: {"threshold": draw(st.one_of(st.just("0"), whole(0, 3000))), "ratio": draw(ratio),
                    "annual_cap": draw(st.one_of(st.none(), whole(0, 60000)))}
                for c in draw(st.sets(st.sampled_from(CATEGORIES), min_size=1))
            },
        }
    if draw(st.booleans()):
        doc["fallback"] = {"categories": sorted(draw(st.sets(st.sampled_from(CATEGORIES)))),
                           "med_types": sorted(draw(st.sets(st.sampled_from(["11", "14", "21", "41"])))),
                           "max_personal_share": draw(ratio), "same_region_only": draw(st.booleans())}
    if draw(st.booleans()):
        doc["secondary_aid"] = {
            "annual_cap": draw(st.one_of(st.none(), whole(0, 100000))),
            "categories": {
                c: {"threshold": draw(st.one_of(st.just("0"), whole(0, 8000))), "ratio": draw(ratio),
                    "scopes": sorted(draw(st.sets(st.sampled_from(SCOPES))))}
                for c in draw(st.sets(st.sampled_from(CATEGORIES), min_size=1))
            },
        }
    return doc


# --------------------------------------------------------------------------- catalog, lines, encounters


@st.composite
def catalog_items(draw, code: str) -> CatalogItem | None:
    category = draw(st.sampled_from(["A", "A", "B", "C", None]))
    if category is None:
        return None
    restriction = None
    if draw(st.integers(0, 3)) == 0:
        restriction = Restriction(
            med_types=draw(st.one_of(st.none(), st.lists(st.sampled_from(["11", "14", "21", "41"]), min_size=1, unique=True).map(tuple))),
            diagnoses=draw(st.one_of(st.none(), st.lists(st.sampled_from(["E11", "i10", "C34"]), min_size=1, unique=True).map(tuple))),
            special_diseases=draw(st.one_of(st.none(), st.lists(st.sampled_from(DISEASES), min_size=1, unique=True).map(tuple))),
            min_level=draw(st.one_of(st.none(), st.integers(1, 3))),
        )
    return CatalogItem(
        code=code,
        name=code,
        category=category,
        self_pay_ratio=Decimal(draw(st.integers(0, 30))).scaleb(-2) if category == "B" else ZERO,
        price_cap=draw(st.one_of(st.none(), cents(0, 20000))),
        restriction=restriction,
    )


unit_prices = st.one_of(cents(1, 300), cents(100, 60000), st.integers(0, 100000).map(lambda m: Decimal(m).scaleb(-3)))
quantities = st.sampled_from(["1", "2", "3", "0.5", "10", "0.333"]).map(Decimal)


@st.composite
def scenarios(draw) -> tuple[Encounter, SettlementContext]:
    insutype = draw(st.sampled_from(["310", "390"]))
    policy = policy_from_document(draw(policy_docs(insutype)))

    kind = draw(st.sampled_from(["hospital", "community", "pharmacy"]))
    level = {"hospital": draw(st.integers(1, 3)), "community": 1, "pharmacy": None}[kind]
    region = draw(st.sampled_from(["441900", "441900", "441900", "440100", "510900"]))
    institution = Institution(f"{kind[0].upper()}{region}0001", kind, level, region)
    med_type = draw(st.sampled_from(["41", "14"] if kind == "pharmacy" else ["11", "14", "21"]))

    person = Person(
        person_id="P1",
        insured_region="441900",
        enrollments=(Enrollment(insutype, dt.date(2020, 1, 1)),),
        retired=draw(st.booleans()),
        aid_category=draw(st.sampled_from(CATEGORIES + [None])),
        account_balance=draw(cents(0, 5000)),
    )

    special = draw(st.sampled_from(DISEASES + ["M99999"])) if med_type == "14" else None
    registrations = (SpecialDiseaseRegistration(special, YEAR_START, YEAR_END, None),) if special else ()
    filings = ((CrossRegionFiling(draw(st.sampled_from(["440000", "440100", "510000"])), YEAR_START, YEAR_END),)
               if draw(st.booleans()) else ())
    referral = None
    if med_type == "21" and draw(st.integers(0, 3)) == 0:
        referral = Referral("P1", institution.code, draw(st.sampled_from(["downward", "upward", "same"])),
                            YEAR_START, YEAR_END, origin_deductible=draw(cents(0, 1500)))

    codes = [f"I{n}" for n in range(draw(st.integers(1, 8)))]
    catalog = {code: draw(catalog_items(code)) for code in codes}
    lines = tuple(FeeLine(n, code, draw(quantities), draw(unit_prices)) for n, code in enumerate(codes, 1))

    names = list(ACCUMULATOR_SCALARS) + [
        "deductible:outpatient", "deductible:special", "deductible:inpatient",
        "limit:general_outpatient", "limit:other", *[f"disease:{d}" for d in DISEASES],
    ]
    amounts = st.one_of(cents(0, 3000), cents(0, 150000))
    acc = Accumulators({n: draw(amounts) for n in draw(st.sets(st.sampled_from(names), max_size=5))})

    encounter = Encounter(
        med_type=med_type,
        encounter_date=DAY,
        lines=lines,
        insutype=draw(st.sampled_from([insutype, None])),
        diagnoses=tuple(draw(st.lists(st.sampled_from(["E11.900", "I10.x00", "c34.1", "J18.9"]), max_size=2))),
        special_disease=special,
        use_personal_account=draw(st.booleans()),
        has_referral=referral is not None,
    )
    ctx = SettlementContext(person=person, institution=institution, policy=policy, catalog=catalog,
                            accumulators=acc, registrations=registrations, filings=filings, referral=referral)
    return encounter, ctx


# --------------------------------------------------------------------------- properties
# One generated scenario feeds claims 1-4 (generating a scenario costs more than settling it).


def check_identities_and_deltas(encounter: Encounter, ctx: SettlementContext, result: Settlement) -> None:
    assert not identity_problems(result)
    assert not delta_problems(result)
    for name, value in result.deltas.items():
        if name != "account_balance":
            assert value > 0, f"{name} = {value}: accumulators only grow"
    assert all(f.amount > 0 for f in result.funds)


def check_preview_equals_settle(encounter: Encounter, ctx: SettlementContext, result: Settlement | Refusal) -> None:
    before = copy.deepcopy((encounter, ctx))
    assert settle(encounter, ctx) == result
    assert (encounter, ctx) == before


def check_reversal(encounter: Encounter, ctx: SettlementContext, result: Settlement) -> None:
    start = ctx.accumulators
    applied = start.plus(result.deltas)
    reversed_ = applied.plus({k: -v for k, v in result.deltas.items()})
    for name in set(start.values) | set(result.deltas):
        assert reversed_.get(name) == start.get(name), name


def check_caps(encounter: Encounter, ctx: SettlementContext, result: Settlement) -> None:
    t, acc, policy, person = result.totals, ctx.accumulators, ctx.policy, ctx.person

    if acc.get("basic_paid") <= policy.basic.annual_cap:
        assert acc.get("basic_paid") + t.basic_fund <= policy.basic.annual_cap

    ci = policy.critical_illness
    tilted = ci is not None and ci.tilt is not None and person.aid_category in ci.tilt.categories
    if ci is not None and ci.annual_cap is not None and not (tilted and ci.tilt.no_cap):
        if acc.get("ci_paid") <= ci.annual_cap:
            assert acc.get("ci_paid") + t.critical_illness <= ci.annual_cap
    if ci is None or encounter.med_type not in ci.med_types:
        assert t.critical_illness == 0

    aid = policy.medical_aid
    if aid is not None and person.aid_category in aid.categories:
        cap = aid.categories[person.aid_category].annual_cap
        if cap is not None and acc.get("aid_paid") <= cap:
            assert acc.get("aid_paid") + t.medical_aid <= cap
    else:
        assert t.medical_aid == 0

    sa = policy.secondary_aid
    if sa is not None and sa.annual_cap is not None and acc.get("sa_paid") <= sa.annual_cap:
        assert acc.get("sa_paid") + t.secondary_aid <= sa.annual_cap
    if sa is None or person.aid_category not in sa.categories:
        assert t.secondary_aid == 0

    if policy.fallback is None or person.aid_category not in policy.fallback.categories:
        assert t.fallback == 0

    assert t.personal_account <= person.account_balance
    if result.insutype != "310" or not encounter.use_personal_account:
        assert t.personal_account == 0
    else:
        assert t.personal_account == min(person.account_balance, t.personal_total)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_settlement(scenario) -> None:
    """Claims 1-4 on one random scenario."""
    encounter, ctx = scenario
    result = settle(encounter, ctx)
    check_preview_equals_settle(encounter, ctx, result)
    if isinstance(result, Refusal):
        assert result.code in REFUSALS
        return
    check_identities_and_deltas(encounter, ctx, result)
    check_reversal(encounter, ctx, result)
    check_caps(encounter, ctx, result)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.data())
def test_adding_a_line_never_lowers_what_the_funds_pay(scenario, data) -> None:
    encounter, ctx = scenario
    code = "EXTRA"
    item = data.draw(catalog_items(code))
    extra = FeeLine(len(encounter.lines) + 1, code, data.draw(quantities), data.draw(unit_prices))
    bigger = dataclasses.replace(encounter, lines=encounter.lines + (extra,))
    bigger_ctx = dataclasses.replace(ctx, catalog={**ctx.catalog, code: item})

    small = settle(encounter, ctx)
    large = settle(bigger, bigger_ctx)
    assert isinstance(small, Refusal) == isinstance(large, Refusal)
    if isinstance(small, Refusal):
        assert small.code == large.code
        return
    a, b = small.totals, large.totals
    assert b.total >= a.total
    for name in ("basic_fund", "critical_illness", "medical_aid", "secondary_aid", "fund_total", "personal_total"):
        assert getattr(b, name) >= getattr(a, name), f"{name}: {getattr(a, name)} -> {getattr(b, name)}"
    assert b.fund_total - a.fund_total <= b.total - a.total


def test_fallback_alone_can_fall() -> None:
    """Why monotonicity is claimed for fund_total and not for each layer.

    Golden case 50 (Suining, registered poor, fallback 1706.25) plus an A item of
    1000.00, by hand: in_scope 22800; deductible 400; payable 22400 x 0.75 =
    16800; pool 5600; CI base 6000, above 4000: 2000 x 0.65 = 1300; aid base
    200 + 400 + 5600 - 1300 = 4900, above 3000: 1900 x 0.50 = 950; policy_cost
    23000; left 23000 - 16800 - 1300 - 950 = 3950; 10% = 2300; fallback 1650.00
    (< 1706.25) while fund_total 20700.00 (> 19800.00).
    """
    case = load_case(CASES_DIR / "50_fallback_suining_in_region.json")
    case["encounter"]["lines"].append({"line_no": 4, "code": "A100", "qty": "1", "unit_price": "1000.00"})
    encounter, ctx = build_inputs(case)
    result = settle(encounter, ctx)
    assert isinstance(result, Settlement)
    assert result.totals.basic_fund == Decimal("16800.00")
    assert result.totals.critical_illness == Decimal("1300.00")
    assert result.totals.medical_aid == Decimal("950.00")
    assert result.totals.fallback == Decimal("1650.00")
    assert result.totals.fund_total == Decimal("20700.00")
    assert result.totals.personal_total == Decimal("3300.00")
