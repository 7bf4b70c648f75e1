"""Fund-payment and caps reports over HTTP, and the rollup behind them.

The world is tests/reconciliation/world.py's ``june_world`` (its docstring in
tests/reconciliation/test_reconciliation.py). Live now (s3 and s4 are reversed):

    s6 May   H3 390 21  total 1500.00  basic  350.00  cash 1150.00
    s1 June  H3 390 21  total 5000.00  basic 2800.00  cash 2200.00
    s2 June  H3 310 21  total 3000.00  basic 1400.00  account 500.00  cash 1100.00
    s5 June  C1 390 11  total  200.00  basic   60.00  cash  140.00
    s7 July  H3 390 21  total 1200.00  basic  140.00  cash 1060.00
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest

from app.reports import rollup
from tests.helpers import problem
from tests.reconciliation.world import at, inpatient, june_world, outpatient, reverse_at, settle_at
from tests.world import C1, H2, H3, add_person


JUNE = "date_from=2026-06-01&date_to=2026-06-30"


@pytest.fixture
async def june(app, world, hospital, community):
    return await june_world(app, world, hospital, community)


def cut(rows, *keys):
    return [tuple(r[k] for k in keys) for r in rows]


async def report(client, query):
    r = await client.get(f"/v1/reports/fund-payments?{query}")
    assert r.status_code == 200, r.text
    return r.json()["rows"]


async def fold_now(app):
    async with app.state.engine.begin() as conn:
        return await rollup.fold(conn, dt.timedelta(0))


async def test_grouping(june, ops):
    # June by fund: basic 2800 + 1400 + 60 = 4260.00 (3); account 500.00 (1); cash 2200 + 1100 + 140 = 3440.00 (3)
    rows = await report(ops, JUNE)
    assert rows == [
        {"fund": "basic", "fund_name": "统筹基金", "amount": "4260.00", "settlements": 3},
        {"fund": "personal_account", "fund_name": "个人账户", "amount": "500.00", "settlements": 1},
        {"fund": "cash", "fund_name": "现金", "amount": "3440.00", "settlements": 3},
    ]
    rows = await report(ops, JUNE + "&group_by=fund,institution_code")
    # H3: basic 2800 + 1400 = 4200.00, cash 2200 + 1100 = 3300.00; C1: 60.00 and 140.00
    assert cut(rows, "fund", "institution_code", "amount", "settlements") == [
        ("basic", C1, "60.00", 1), ("basic", H3, "4200.00", 2), ("personal_account", H3, "500.00", 1),
        ("cash", C1, "140.00", 1), ("cash", H3, "3300.00", 2),
    ]  # fmt: skip
    # months first, May to July: May s6; June as above; July s7 (s4, settled in June, is reversed)
    rows = await report(ops, "date_from=2026-05-01&date_to=2026-07-31&group_by=month,fund")
    assert cut(rows, "month", "fund", "amount", "settlements") == [
        ("2026-05", "basic", "350.00", 1), ("2026-05", "cash", "1150.00", 1),
        ("2026-06", "basic", "4260.00", 3), ("2026-06", "personal_account", "500.00", 1),
        ("2026-06", "cash", "3440.00", 3),
        ("2026-07", "basic", "140.00", 1), ("2026-07", "cash", "1060.00", 1),
    ]  # fmt: skip
    assert list(rows[0]) == ["month", "fund", "fund_name", "amount", "settlements"] or list(rows[0]) == [
        "fund", "fund_name", "month", "amount", "settlements"]  # fmt: skip
    # insutype × med_type × level × region: 310 21 (s2), 390 11 at a level-1 community (s5), 390 21 (s1)
    rows = await report(ops, JUNE + "&group_by=fund,insutype,med_type,institution_level,region,aid_category")
    assert cut(rows, "fund", "insutype", "med_type", "institution_level", "region", "aid_category", "amount") == [
        ("basic", "310", "21", 3, "441900", None, "1400.00"), ("basic", "390", "11", 1, "441900", None, "60.00"),
        ("basic", "390", "21", 3, "441900", None, "2800.00"),
        ("personal_account", "310", "21", 3, "441900", None, "500.00"),
        ("cash", "310", "21", 3, "441900", None, "1100.00"), ("cash", "390", "11", 1, "441900", None, "140.00"),
        ("cash", "390", "21", 3, "441900", None, "2200.00"),
    ]  # fmt: skip


async def test_aid_category_and_medical_aid(june, app, world, hospital, ops):
    # A minimum-living person's inpatient stay pays from more funds; the report's aid rows must
    # be the settlement's own fund amounts (the engine's arithmetic has its own tests).
    await add_person(world, "M1", aid_category="minimum_living")
    s = await settle_at(app, hospital, at("2026-06-18"), inpatient("M1", "30000.00", "EM1"))
    t = s["totals"]
    assert t["medical_aid"] != "0.00"
    rows = await report(ops, JUNE + "&group_by=fund,aid_category")
    mine = {r["fund"]: r["amount"] for r in rows if r["aid_category"] == "minimum_living"}
    expected = {f: t[c] for f, c in (("basic", "basic_fund"), ("critical_illness", "critical_illness"),
                                     ("medical_aid", "medical_aid"), ("secondary_aid", "secondary_aid"),
                                     ("cash", "cash")) if t[c] != "0.00"}  # fmt: skip
    assert mine == expected
    others = {r["fund"]: r["amount"] for r in rows if r["aid_category"] is None}
    assert others == {"basic": "4260.00", "personal_account": "500.00", "cash": "3440.00"}


async def test_fold_changes_nothing_and_reversals_subtract(june, app, world, hospital, ops):
    query = "date_from=2026-05-01&date_to=2026-07-31&group_by=fund,month,institution_code,insutype"
    live_only = await report(ops, query)
    # edges: May 31 (s6) and July 1 (s7) from report_daily, June from report_monthly once folded
    edges = "date_from=2026-05-31&date_to=2026-07-01&group_by=fund,month"
    edges_live = await report(ops, edges)
    assert cut(edges_live, "fund", "month", "amount")[:3] == [
        ("basic", "2026-05", "350.00"), ("basic", "2026-06", "4260.00"), ("basic", "2026-07", "140.00")]
    assert await world.count("report_daily") == 0  # read live: nothing folded yet
    folded = await fold_now(app)
    assert folded["folded"] and folded["groups"] > 0
    # May 1 group, June 3 + 1 (s3's reversal nets its group to 0 but the row stays), July 1
    assert await world.count("report_daily") >= 5
    assert await report(ops, query) == live_only
    assert await report(ops, edges) == edges_live
    assert await world.count("report_monthly") >= 3
    # reverse s1 (already folded), now: the June basic loses 2800.00, cash 2200.00
    await reverse_at(app, hospital, dt.datetime.now(dt.UTC), june[1]["settlement_id"])
    after = await report(ops, JUNE + "&group_by=fund")
    # basic 4260 − 2800 = 1460.00 (2), cash 3440 − 2200 = 1240.00 (2)
    assert cut(after, "fund", "amount", "settlements") == [
        ("basic", "1460.00", 2), ("personal_account", "500.00", 1), ("cash", "1240.00", 2)]  # fmt: skip
    await fold_now(app)
    assert await report(ops, JUNE + "&group_by=fund") == after
    # a settlement after the fold is read live, then folded
    await add_person(world, "A9")
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    await settle_at(app, hospital, now, inpatient("A9", "1100.00", "E9"))  # basic (1100 − 1000) × 70% = 70.00
    q = f"date_from={today}&date_to={today}"
    rows = await report(ops, q)
    assert cut(rows, "fund", "amount", "settlements") == [("basic", "70.00", 1), ("cash", "1030.00", 1)]
    await fold_now(app)
    assert await report(ops, q) == rows
    assert await report(ops, JUNE + "&group_by=fund") == after


async def test_a_late_commit_with_an_earlier_time_is_not_skipped(june, app, world, ops, database_dsn):
    """Settlements commit out of settled_at order: a transaction open while a fold runs holds
    the horizon back, so its row is read live and folded later, never lost."""
    import asyncpg

    await fold_now(app)
    conn = await asyncpg.connect(database_dsn)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1")  # the transaction has started: its xact_start is now
        # the row the transaction will commit: a clone of s1 settled on 06-09, i.e. long before
        # the fold below — with a "largest settled_at folded" watermark it would be skipped
        sid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO settlements SELECT $1, institution_code, person_id, 'LATE', insutype, med_type,"
            " encounter_date, accumulation_year, policy_region, policy_insutype, policy_effective_from,"
            " cross_region, 'settled', now(), NULL, total, self_pay_full, over_limit, pre_self_pay, in_scope,"
            " deductible, pool_self_pay, over_cap, basic_fund, critical_illness, medical_aid, fallback,"
            " secondary_aid, fund_total, personal_total, personal_account, cash, NULL, NULL, response"
            " FROM settlements WHERE settlement_id = $2",
            sid, uuid.UUID(june[1]["settlement_id"]),
        )  # fmt: skip
        folded = await fold_now(app)  # margin 0: the horizon stops at the open transaction's start
        await tx.commit()
    finally:
        await conn.close()
    assert folded["horizon"] is None or folded["horizon"] <= await world.fetchval(
        "SELECT settled_at FROM settlements WHERE settlement_id = $1", sid
    )
    # the clone is dated now (today), outside June: count it in today's month
    today = await world.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")
    q = f"date_from={today}&date_to={today}"
    rows = await report(ops, q)
    assert cut(rows, "fund", "amount")[0] == ("basic", "2800.00")
    await fold_now(app)
    assert await report(ops, q) == rows


async def test_csv_with_chinese_fund_names(june, ops):
    r = await ops.get(f"/v1/reports/fund-payments?{JUNE}&group_by=fund,institution_code",
                      headers={"accept": "text/csv"})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8"))))
    assert lines[0] == ["fund", "fund_name", "institution_code", "amount", "settlements"]
    assert lines[1:] == [
        ["basic", "统筹基金", C1, "60.00", "1"], ["basic", "统筹基金", H3, "4200.00", "2"],
        ["personal_account", "个人账户", H3, "500.00", "1"], ["cash", "现金", C1, "140.00", "1"],
        ["cash", "现金", H3, "3300.00", "2"],
    ]  # fmt: skip


async def test_roles_and_bad_queries(june, hospital, community, ops, make_client):
    # an institution sees only itself: C1's June is s5
    rows = await report(community, JUNE)
    assert cut(rows, "fund", "amount") == [("basic", "60.00"), ("cash", "140.00")]
    assert await report(community, JUNE + f"&institution_code={C1}") == rows
    problem(await community.get(f"/v1/reports/fund-payments?{JUNE}&institution_code={H3}"), 403,
            "institution_not_allowed")  # fmt: skip
    problem(await hospital.get(f"/v1/reports/caps?{JUNE}&institution_code={H2}"), 403, "institution_not_allowed")
    wallet = await make_client("wallet")
    problem(await wallet.get(f"/v1/reports/fund-payments?{JUNE}"), 403, "forbidden")
    problem(await wallet.get(f"/v1/reports/caps?{JUNE}"), 403, "forbidden")
    problem(await ops.get(f"/v1/reports/fund-payments?{JUNE}&group_by=fund,colour"), 422, "invalid_group_by")
    problem(await ops.get(f"/v1/reports/fund-payments?{JUNE}&group_by=month,month"), 422, "invalid_group_by")
    problem(await ops.get("/v1/reports/fund-payments?date_from=2026-06-30&date_to=2026-06-01"), 422,
            "invalid_period")  # fmt: skip
    problem(await ops.get("/v1/reports/fund-payments?date_from=2026-06-01"), 422, "validation_error")
    # ops, one institution
    rows = await report(ops, JUNE + f"&institution_code={H3}")
    assert cut(rows, "fund", "amount") == [("basic", "4200.00"), ("personal_account", "500.00"), ("cash", "3300.00")]


async def test_caps_report(app, world, hospital, community, ops):
    # D1 at the community centre (11: annual deductible 100.00, 60 %, annual limit 1000.00 of the
    # general-outpatient group): 2000.00 → (2000 − 100) × 60% = 1140.00, held to 1000.00 (over 140.00);
    # then 300.00 → 180.00, no room left: 0.00 (over 180.00). Both held: 1 person, 2 settlements.
    await add_person(world, "D1")
    first = await settle_at(app, community, at("2026-06-03"), outpatient("D1", "2000.00", "ED1"))
    second = await settle_at(app, community, at("2026-06-04"), outpatient("D1", "300.00", "ED2"))
    assert (first["totals"]["basic_fund"], first["totals"]["over_cap"]) == ("1000.00", "140.00")
    assert (second["totals"]["basic_fund"], second["totals"]["over_cap"]) == ("0.00", "180.00")
    # critical illness capped at 500.00 for this test; A2 inpatient 60000.00 in July: basic
    # (60000 − 1000) × 70% = 41300.00, burden 1000 + 17700 = 18700.00, (18700 − 15000) × 60% = 2220.00 → 500.00
    await world.execute(
        "UPDATE policies SET document = jsonb_set(document, '{critical_illness,annual_cap}', '\"500\"')"
        " WHERE insutype = '390'"
    )
    await add_person(world, "A2")
    big = await settle_at(app, hospital, at("2026-07-08"), inpatient("A2", "60000.00", "EA2"))
    assert (big["totals"]["basic_fund"], big["totals"]["critical_illness"]) == ("41300.00", "500.00")
    after = await settle_at(app, hospital, at("2026-07-09"), inpatient("A2", "9000.00", "EA3"))
    assert after["totals"]["critical_illness"] == "0.00"  # the cap had been reached: no new reaching
    r = await ops.get("/v1/reports/caps?date_from=2026-06-01&date_to=2026-07-31")
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [
        {"fund": "basic", "fund_name": "统筹基金", "month": "2026-06", "persons": 1, "settlements": 2},
        {"fund": "critical_illness", "fund_name": "大病保险", "month": "2026-07", "persons": 1, "settlements": 1},
    ]
    # the community centre sees its own (the basic rows), CSV too
    r = await community.get("/v1/reports/caps?date_from=2026-06-01&date_to=2026-07-31", headers={"accept": "text/csv"})
    assert r.text.splitlines() == ["fund,fund_name,month,persons,settlements", "basic,统筹基金,2026-06,1,2"]
    # a reversed settlement no longer counts
    await reverse_at(app, community, at("2026-06-05"), second["settlement_id"])
    r = await ops.get("/v1/reports/caps?date_from=2026-06-01&date_to=2026-06-30")
    assert r.json()["rows"] == [
        {"fund": "basic", "fund_name": "统筹基金", "month": "2026-06", "persons": 1, "settlements": 1}]


def test_split_months():
    from app.reports.service import split_months

    d = dt.date
    # whole months from report_monthly, the days at the edges from report_daily
    assert split_months(d(2026, 5, 20), d(2026, 8, 10)) == (
        (d(2026, 6, 1), d(2026, 7, 1)), [(d(2026, 5, 20), d(2026, 5, 31)), (d(2026, 8, 1), d(2026, 8, 10))])
    assert split_months(d(2026, 6, 1), d(2026, 6, 30)) == ((d(2026, 6, 1), d(2026, 6, 1)), [])
    assert split_months(d(2026, 6, 2), d(2026, 6, 30)) == (None, [(d(2026, 6, 2), d(2026, 6, 30))])
    assert split_months(d(2026, 12, 5), d(2027, 2, 28)) == (
        (d(2027, 1, 1), d(2027, 2, 1)), [(d(2026, 12, 5), d(2026, 12, 31))])


async def test_the_periodic_fold_runs_in_the_background(june, app, world):
    """The background step (MEDSETTLE_REPORT_FOLD_INTERVAL_SECONDS; off in the test app) folds
    on its own; a failing tick does not end it."""
    import asyncio

    class State:
        engine = app.state.engine
        report_fold_margin = dt.timedelta(0)

    task = asyncio.create_task(rollup.fold_periodically(State, 0.05))
    try:
        for _ in range(200):
            await asyncio.sleep(0.05)
            if await world.count("report_daily"):
                break
    finally:
        task.cancel()
    assert await world.count("report_daily") > 0
    assert await world.fetchval("SELECT folded_at IS NOT NULL FROM report_rollup_state")
