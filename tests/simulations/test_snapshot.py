"""The stored engine input round-trips exactly (app/engine/snapshot.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.model import (
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
    SettlementContext,
    SpecialDiseaseRegistration,
)
from app.engine.snapshot import payload, restore
from app.settlement.engine_input import engine_input_json
from tests.engine.casefile import build_inputs, case_files, load_case

text = st.text(min_size=0, max_size=8)
codes = st.text(alphabet="ABCDEFGHXYZ0123456789.", min_size=1, max_size=10)
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31))
# Any finite decimal, exponents included: the stored text must give back the same digits.
decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9, places=None)
opt = st.none
tuples = lambda s: st.lists(s, max_size=3).map(tuple)

restrictions = st.builds(
    Restriction,
    med_types=opt() | tuples(st.sampled_from(["11", "14", "21", "41"])),
    diagnoses=opt() | tuples(codes),
    special_diseases=opt() | tuples(codes),
    min_level=opt() | st.integers(1, 3),
)
items = st.builds(
    CatalogItem,
    code=codes,
    name=text,
    category=st.sampled_from("ABC"),
    self_pay_ratio=decimals,
    price_cap=opt() | decimals,
    restriction=opt() | restrictions,
    region=st.sampled_from(["000000", "440000", "441900"]),
)
persons = st.builds(
    Person,
    person_id=codes,
    insured_region=st.sampled_from(["441900", "442000"]),
    enrollments=tuples(st.builds(Enrollment, st.sampled_from(["310", "390"]), dates, opt() | dates)),
    retired=st.booleans(),
    supplementary=st.booleans(),
    aid_category=opt() | st.sampled_from(["extreme_poverty", "low_income"]),
    account_balance=decimals,
)
encounters = st.builds(
    Encounter,
    med_type=st.sampled_from(["11", "14", "21", "41"]),
    encounter_date=dates,
    lines=tuples(st.builds(FeeLine, st.integers(1, 99), codes, decimals, decimals, opt() | text)),
    insutype=opt() | st.sampled_from(["310", "390"]),
    diagnoses=tuples(codes),
    special_disease=opt() | codes,
    use_personal_account=st.booleans(),
    has_referral=st.booleans(),
)
contexts = st.builds(
    SettlementContext,
    person=persons,
    institution=st.builds(
        Institution, codes, st.sampled_from(["hospital", "community", "pharmacy"]), opt() | st.integers(1, 3),
        st.sampled_from(["441900", "110000"]), st.booleans(),
    ),
    policy=st.none(),
    catalog=st.dictionaries(codes, opt() | items, max_size=4),
    accumulators=st.just(Accumulators({"basic_paid": Decimal("12.30")})),
    registrations=tuples(st.builds(SpecialDiseaseRegistration, codes, dates, dates, opt() | tuples(codes))),
    filings=tuples(st.builds(CrossRegionFiling, st.sampled_from(["110000", "441900"]), dates, dates)),
    referral=opt() | st.builds(
        Referral, codes, codes, st.sampled_from(["upward", "downward", "same"]), dates, dates, decimals, st.booleans()
    ),
)


def _same_decimals(a: object, b: object) -> None:
    """Decimal equality ignores the exponent; the stored form must keep it too."""
    if isinstance(a, Decimal):
        assert isinstance(b, Decimal) and a.as_tuple() == b.as_tuple()


@settings(max_examples=300, deadline=None)
@given(encounters, contexts)
def test_round_trip(encounter: Encounter, ctx: SettlementContext) -> None:
    stored = orjson.dumps(payload(encounter, ctx), default=str)
    back_encounter, back = restore(orjson.loads(stored))
    assert back_encounter == encounter
    assert back.person == ctx.person
    assert back.institution == ctx.institution
    assert back.catalog == ctx.catalog
    assert back.registrations == ctx.registrations
    assert back.filings == ctx.filings
    assert back.referral == ctx.referral
    assert back.policy_version is None
    # with a cache shared across calls (as a replay keeps one): the same objects' values
    cache: dict = {}
    for _ in range(2):
        cached_encounter, cached = restore(orjson.loads(stored), cache)
        assert cached_encounter == encounter and cached == back
    for line, back_line in zip(encounter.lines, back_encounter.lines):
        _same_decimals(line.qty, back_line.qty)
        _same_decimals(line.unit_price, back_line.unit_price)
    _same_decimals(ctx.person.account_balance, back.person.account_balance)
    # The accumulators are not stored: a run supplies its own.
    rebuilt = back.context(None, Accumulators())
    assert rebuilt.accumulators == Accumulators()
    assert rebuilt.person == ctx.person
    assert back.context(None, Accumulators(), account_balance=Decimal("1.00")).person.account_balance == Decimal("1.00")


@settings(max_examples=300, deadline=None)
@given(encounters, contexts)
def test_settle_path_writes_the_same_bytes(encounter: Encounter, ctx: SettlementContext) -> None:
    """The settle path's writer (`engine_input_json`, catalog texts remembered by identity)
    stores exactly what ``orjson.dumps(payload, default=str)`` would, hit or miss."""
    expected = orjson.dumps(payload(encounter, ctx), default=str)
    assert engine_input_json(encounter, ctx) == expected
    assert engine_input_json(encounter, ctx) == expected  # second time from the remembered texts
    # One cached item under another code (the memo keys its text by the code as well).
    items = [i for i in ctx.catalog.values() if i is not None]
    if items:
        moved = SettlementContext(
            person=ctx.person, institution=ctx.institution, policy=None,
            catalog={"OTHER" + code: item for code, item in zip(ctx.catalog, items)},
        )
        assert engine_input_json(encounter, moved) == orjson.dumps(payload(encounter, moved), default=str)


def test_settle_path_writes_the_same_bytes_for_every_golden_case() -> None:
    for path in case_files():
        encounter, ctx = build_inputs(load_case(path))
        assert engine_input_json(encounter, ctx) == orjson.dumps(payload(encounter, ctx), default=str), path.name
