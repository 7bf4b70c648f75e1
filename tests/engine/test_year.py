"""A year of encounters for one minimum-living (低保) Dongguan resident.

Each result's deltas are folded into the accumulators (Accumulators.plus) before
the next encounter, as the service does. Every figure below was worked by hand
from settlement.md with the Dongguan resident policy of policy.md:

  basic 400000 cap; 21: L3 70%/1000, L2 80%/600; 11 community 60%, annual
  deductible 100 (outpatient), limit 1000 (general_outpatient); 41 50%, same
  groups; 14 75%, M01600 limit 3000.
  CI tilted for minimum_living: D 7500, +5%, no cap -> 65% up to 107500, 75% above.
  Medical aid minimum_living: threshold 0, 70%, cap 50000.
  Secondary aid minimum_living: threshold 7000, 70%, cap 100000;
  scopes inpatient, community_outpatient, special_outpatient (not pharmacy).

Crossed mid-encounter: the outpatient deductible (E1), the CI deductible (E2),
the general-outpatient limit (E5), the secondary-aid threshold (E6), the CI
65%/75% boundary (E8), the basic annual cap and the secondary-aid cap (E9),
the medical-aid cap (E11).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.engine.model import (
    TOTAL_FIELDS,
    Accumulators,
    CatalogItem,
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Settlement,
    SettlementContext,
    SpecialDiseaseRegistration,
)
from app.engine.settle import settle
from tests.engine.casefile import D, delta_problems, identity_problems, load_policy

POLICY = load_policy("dongguan_390")
PERSON = Person(
    person_id="P441900777",
    insured_region="441900",
    enrollments=(Enrollment("390", dt.date(2020, 1, 1)),),
    aid_category="minimum_living",
)
H3 = Institution("H44190000003", "hospital", 3, "441900")
H2 = Institution("H44190000002", "hospital", 2, "441900")
C1 = Institution("C44190000001", "community", 1, "441900")
P1 = Institution("P44190000001", "pharmacy", None, "441900")
CATALOG = {
    "A": CatalogItem("A", "甲类", "A"),
    "B10": CatalogItem("B10", "乙类 10%", "B", self_pay_ratio=Decimal("0.10")),
    "C": CatalogItem("C", "丙类", "C"),
    "N": None,
}
REGISTRATIONS = (
    SpecialDiseaseRegistration("M01600", dt.date(2026, 1, 1), dt.date(2026, 12, 31), ("C44190000001",)),
)


def _enc(med_type: str, day: str, lines: list[tuple[str, str, str]], special: str | None = None) -> Encounter:
    return Encounter(
        med_type=med_type,
        encounter_date=dt.date.fromisoformat(day),
        lines=tuple(FeeLine(n, code, D(qty), D(price)) for n, (code, qty, price) in enumerate(lines, 1)),
        insutype="390",
        special_disease=special,
    )


def _totals(*values: str) -> dict[str, Decimal]:
    assert len(values) == len(TOTAL_FIELDS)
    return dict(zip(TOTAL_FIELDS, map(D, values)))


#         total       sfp        over  pre    in_scope   ded      pool      over_cap  basic      ci         aid        fb    sa         fund        personal   acct  cash
YEAR = [
    (
        "E1 11 community: outpatient deductible 100 paid in full; sa_base 180",
        C1, _enc("11", "2026-01-10", [("A", "1", "300.00")]),
        _totals("300.00", "0.00", "0.00", "0.00", "300.00", "100.00", "80.00", "0.00", "120.00", "0.00", "0.00", "0.00", "0.00", "120.00", "180.00", "0.00", "180.00"),
        {"basic_paid": "120.00", "deductible:outpatient": "100.00", "limit:general_outpatient": "120.00", "sa_base": "180.00"},
    ),
    (
        # in 30000 + 4500 = 34500, pre 500, C 2000; ded 1000, 33500 x .7 = 23450, pool 10050
        # CI 11050: 0 -> 11050, above 7500: 3550 x .65 = 2307.50
        # aid (500 + 1000 + 10050 - 2307.50) = 9242.50 x .7 = 6469.75
        # sa 37000 - 23450 - 2307.50 - 6469.75 = 4772.75; 180 -> 4952.75 < 7000
        "E2 21 level 3: CI deductible 7500 crossed mid-encounter",
        H3, _enc("21", "2026-02-20", [("A", "1", "30000.00"), ("B10", "1", "5000.00"), ("C", "1", "2000.00")]),
        _totals("37000.00", "2000.00", "0.00", "500.00", "34500.00", "1000.00", "10050.00", "0.00", "23450.00", "2307.50", "6469.75", "0.00", "0.00", "32227.25", "4772.75", "0.00", "4772.75"),
        {"basic_paid": "23450.00", "ci_base": "11050.00", "ci_paid": "2307.50", "aid_base": "9242.50",
         "aid_paid": "6469.75", "sa_base": "4772.75"},
    ),
    (
        # deductible group met by E1; limit room 880; pharmacy not a secondary-aid scope
        "E3 41 pharmacy: deductible shared with 11 already met",
        P1, _enc("41", "2026-03-05", [("A", "4", "100.00"), ("C", "1", "100.00")]),
        _totals("500.00", "100.00", "0.00", "0.00", "400.00", "0.00", "200.00", "0.00", "200.00", "0.00", "0.00", "0.00", "0.00", "200.00", "300.00", "0.00", "300.00"),
        {"basic_paid": "200.00", "limit:general_outpatient": "200.00"},
    ),
    (
        # 2000 x .75 = 1500 (limit 3000); CI 500 x .65 = 325; aid (500 - 325) x .7 = 122.50
        # sa 2000 - 1500 - 325 - 122.50 = 52.50 -> 5005.25
        "E4 14 M01600 at the chosen community site",
        C1, _enc("14", "2026-04-12", [("A", "1", "2000.00")], special="M01600"),
        _totals("2000.00", "0.00", "0.00", "0.00", "2000.00", "0.00", "500.00", "0.00", "1500.00", "325.00", "122.50", "0.00", "0.00", "1947.50", "52.50", "0.00", "52.50"),
        {"basic_paid": "1500.00", "disease:M01600": "1500.00", "ci_base": "500.00", "ci_paid": "325.00",
         "aid_base": "175.00", "aid_paid": "122.50", "sa_base": "52.50"},
    ),
    (
        # raw 1500 x .6 = 900, room 1000 - 320 = 680 -> over_cap 220; sa 1800 - 680 = 1120 -> 6125.25
        "E5 11 community: general-outpatient limit crossed mid-encounter",
        C1, _enc("11", "2026-05-08", [("A", "1", "1500.00"), ("C", "1", "300.00")]),
        _totals("1800.00", "300.00", "0.00", "0.00", "1500.00", "0.00", "600.00", "220.00", "680.00", "0.00", "0.00", "0.00", "0.00", "680.00", "1120.00", "0.00", "1120.00"),
        {"basic_paid": "680.00", "limit:general_outpatient": "680.00", "sa_base": "1120.00"},
    ),
    (
        # ded 600, 7400 x .8 = 5920, pool 1480; CI 2080 x .65 = 1352; aid (600 + 1480 - 1352) = 728 x .7 = 509.60
        # sa 9500 - 5920 - 1352 - 509.60 = 1718.40; 6125.25 -> 7843.65; (7843.65 - 7000) x .7 = 590.555 -> 590.56
        "E6 21 level 2: secondary-aid threshold 7000 crossed mid-encounter (half up)",
        H2, _enc("21", "2026-06-15", [("A", "1", "8000.00"), ("C", "1", "1500.00")]),
        _totals("9500.00", "1500.00", "0.00", "0.00", "8000.00", "600.00", "1480.00", "0.00", "5920.00", "1352.00", "509.60", "0.00", "590.56", "8372.16", "1127.84", "0.00", "1127.84"),
        {"basic_paid": "5920.00", "ci_base": "2080.00", "ci_paid": "1352.00", "aid_base": "728.00",
         "aid_paid": "509.60", "sa_base": "1718.40", "sa_paid": "590.56"},
    ),
    (
        "E7 41 pharmacy: general-outpatient limit exhausted, nothing moves",
        P1, _enc("41", "2026-07-01", [("A", "2", "100.00")]),
        _totals("200.00", "0.00", "0.00", "0.00", "200.00", "0.00", "100.00", "100.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "200.00", "0.00", "200.00"),
        {},
    ),
    (
        # ded 1000; 319000 x .7 = 223300; pool 95700; CI base 96700: 13630 -> 110330
        # 65% on 13630..107500 = 93870 -> 61015.50; 75% on 107500..110330 = 2830 -> 2122.50; ci 63138.00
        # aid (1000 + 95700 - 63138) = 33562 x .7 = 23493.40 (room 42898.15)
        # sa 340000 - 223300 - 63138 - 23493.40 = 30068.60 x .7 = 21048.02
        "E8 21 level 3: CI 65%/75% band boundary crossed mid-encounter",
        H3, _enc("21", "2026-08-20", [("A", "32", "10000.00"), ("N", "1", "20000.00")]),
        _totals("340000.00", "20000.00", "0.00", "0.00", "320000.00", "1000.00", "95700.00", "0.00", "223300.00", "63138.00", "23493.40", "0.00", "21048.02", "330979.42", "9020.58", "0.00", "9020.58"),
        {"basic_paid": "223300.00", "ci_base": "96700.00", "ci_paid": "63138.00", "aid_base": "33562.00",
         "aid_paid": "23493.40", "sa_base": "30068.60", "sa_paid": "21048.02"},
    ),
    (
        # basic room 400000 - 255170 = 144830 < raw 249000 x .7 = 174300 -> over_cap 29470; pool 74700
        # CI base 1000 + 74700 + 29470 = 105170 x .75 = 78877.50 (no cap for the tilted)
        # aid (105170 - 78877.50) = 26292.50 x .7 = 18404.75 (room 19404.75)
        # sa 370000 - 144830 - 78877.50 - 18404.75 = 127887.75 x .7 = 89521.43 -> room 100000 - 21638.58 = 78361.42
        "E9 21 level 3: basic annual cap and secondary-aid cap crossed mid-encounter",
        H3, _enc("21", "2026-09-25", [("A", "25", "10000.00"), ("N", "1", "120000.00")]),
        _totals("370000.00", "120000.00", "0.00", "0.00", "250000.00", "1000.00", "74700.00", "29470.00", "144830.00", "78877.50", "18404.75", "0.00", "78361.42", "320473.67", "49526.33", "0.00", "49526.33"),
        {"basic_paid": "144830.00", "ci_base": "105170.00", "ci_paid": "78877.50", "aid_base": "26292.50",
         "aid_paid": "18404.75", "sa_base": "127887.75", "sa_paid": "78361.42"},
    ),
    (
        # basic room 0 -> over_cap 750, pool 250; CI 1000 x .75 = 750; aid 250 x .7 = 175 (room 1000); sa room 0
        "E10 14 M01600 after the basic cap: CI takes over",
        C1, _enc("14", "2026-10-14", [("A", "1", "1000.00")], special="M01600"),
        _totals("1000.00", "0.00", "0.00", "0.00", "1000.00", "0.00", "250.00", "750.00", "0.00", "750.00", "175.00", "0.00", "0.00", "925.00", "75.00", "0.00", "75.00"),
        {"ci_base": "1000.00", "ci_paid": "750.00", "aid_base": "250.00", "aid_paid": "175.00", "sa_base": "75.00"},
    ),
    (
        # ded 600; raw 4400 x .8 = 3520 all over the cap; CI 5000 x .75 = 3750
        # aid 1250 x .7 = 875 -> room 50000 - 49175 = 825
        "E11 21 level 2: medical-aid cap crossed mid-encounter",
        H2, _enc("21", "2026-11-18", [("A", "1", "5000.00")]),
        _totals("5000.00", "0.00", "0.00", "0.00", "5000.00", "600.00", "880.00", "3520.00", "0.00", "3750.00", "825.00", "0.00", "0.00", "4575.00", "425.00", "0.00", "425.00"),
        {"ci_base": "5000.00", "ci_paid": "3750.00", "aid_base": "1250.00", "aid_paid": "825.00", "sa_base": "425.00"},
    ),
    (
        "E12 11 community: every cap reached; only sa_base grows",
        C1, _enc("11", "2026-12-20", [("A", "1", "100.00")]),
        _totals("100.00", "0.00", "0.00", "0.00", "100.00", "0.00", "40.00", "60.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "100.00", "0.00", "100.00"),
        {"sa_base": "100.00"},
    ),
]

FINAL = {
    "basic_paid": "400000.00",
    "deductible:outpatient": "100.00",
    "limit:general_outpatient": "1000.00",
    "disease:M01600": "1500.00",
    "ci_base": "221500.00",
    "ci_paid": "150500.00",
    "aid_base": "71500.00",
    "aid_paid": "50000.00",
    "sa_base": "166400.00",
    "sa_paid": "100000.00",
}


def _ctx(institution: Institution, acc: Accumulators) -> SettlementContext:
    return SettlementContext(
        person=PERSON,
        institution=institution,
        policy=POLICY,
        catalog=CATALOG,
        accumulators=acc,
        registrations=REGISTRATIONS,
    )


def test_year_of_a_minimum_living_resident() -> None:
    acc = Accumulators()
    for label, institution, encounter, want_totals, want_deltas in YEAR:
        result = settle(encounter, _ctx(institution, acc))
        assert isinstance(result, Settlement), f"{label}: {result}"
        got = {name: getattr(result.totals, name) for name in TOTAL_FIELDS}
        diffs = {k: (str(want_totals[k]), str(got[k])) for k in TOTAL_FIELDS if want_totals[k] != got[k]}
        assert not diffs, f"{label}: totals (hand, engine) {diffs}"
        assert dict(result.deltas) == {k: D(v) for k, v in want_deltas.items()}, (
            f"{label}: deltas engine {dict(result.deltas)}"
        )
        assert not identity_problems(result), label
        assert not delta_problems(result), label
        acc = acc.plus(result.deltas)

    final = {k: v for k, v in acc.values.items() if v != 0}
    assert final == {k: D(v) for k, v in FINAL.items()}


def test_year_caps_are_never_overrun() -> None:
    """Folding the year, no paid accumulator ever passes its cap."""
    acc = Accumulators()
    for label, institution, encounter, _, _ in YEAR:
        result = settle(encounter, _ctx(institution, acc))
        acc = acc.plus(result.deltas)
        assert acc.get("basic_paid") <= Decimal("400000"), label
        assert acc.get("limit:general_outpatient") <= Decimal("1000"), label
        assert acc.get("disease:M01600") <= Decimal("3000"), label
        assert acc.get("aid_paid") <= Decimal("50000"), label
        assert acc.get("sa_paid") <= Decimal("100000"), label


def test_reversing_the_year_in_any_order_returns_to_zero() -> None:
    """A reversal undoes exactly the stored deltas (§10), whatever else happened since."""
    acc = Accumulators()
    stored = []
    for _, institution, encounter, _, _ in YEAR:
        result = settle(encounter, _ctx(institution, acc))
        stored.append(dict(result.deltas))
        acc = acc.plus(result.deltas)
    for deltas in stored[::2] + stored[1::2]:  # reverse out of order: reversal never recomputes
        acc = acc.plus({k: -v for k, v in deltas.items()})
    assert all(v == 0 for v in acc.values.values())
