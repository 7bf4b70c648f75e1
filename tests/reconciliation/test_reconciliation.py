"""Totals (3201) and details (3202) reconciliation over HTTP, numbers worked by hand.

The world (Dongguan policies of tests/settlement/world.py; H3 is a level-3 hospital:
inpatient deductible 1000.00 per encounter, 70 %; C1 a community centre: outpatient
deductible 100.00 a year, 60 %):

    s1  A1 (390)  H3  21  5000.00  2026-06-10       basic (5000−1000)×70% = 2800.00
    s2  B1 (310)  H3  21  3000.00  2026-06-12       basic (3000−1000)×70% = 1400.00,
                                                     account min(500.00, 3000−1400) = 500.00
    s3  A1        H3  21  2000.00  2026-06-15, reversed 2026-06-16    basic 700.00
    s4  A1        H3  21  4000.00  2026-06-28, reversed 2026-07-02    basic 2100.00
    s5  A1        C1  11   200.00  2026-06-20       (another institution) basic 60.00
    s6  A1        H3  21  1500.00  2026-05-31 23:30 +08:00 (May)      basic 350.00
    s7  A1        H3  21  1200.00  2026-07-01 00:10 +08:00 (July; 06-30 16:10 UTC) basic 140.00

(A1's critical-illness base stays far below 15000.00: no other fund pays.)
"""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from app.reconciliation import service
from tests.helpers import problem
from tests.reconciliation.world import june_world
from tests.world import C1, H2, H3

pytestmark = pytest.mark.asyncio

HEADER = "settlement_id,encounter_id,person_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag"


@pytest.fixture
async def june(app, world, hospital, community):
    return await june_world(app, world, hospital, community)


def row(insutype, clr, medfee, fund, acct, count, **kw):
    return {"insutype": insutype, "clr_type": clr, "medfee_sumamt": medfee, "fund_pay_sumamt": fund,
            "acct_pay": acct, "count": count, **kw}  # fmt: skip


def figures(answer, side):
    f = answer[side]
    return (f["medfee_sumamt"], f["fund_pay_sumamt"], f["acct_pay"], f["count"])


async def test_totals_balanced_and_each_result(june, hospital):
    # June, H3, 390/21 with reversals: s1 + s3 − s3 + s4 = 5000 + 2000 − 2000 + 4000 = 9000.00;
    # fund 2800 + 700 − 700 + 2100 = 4900.00; count 4 (s3 settled and reversed in June counts 2).
    # 310/21: s2 alone. 390/11: nothing at H3 (s5 is C1's). s6 is May's, s7 July's (+08:00 dates).
    rows = [
        row("390", "21", "9000.00", "4900.00", "0.00", 4),
        row("310", "21", "3000.00", 1400, "500", 1),
        row("390", "11", "0", "0", "0", 0),
        row("390", "21", "5000.00", "2800.00", "0.00", 3),  # missed s4: 中心多
        row("390", "21", "9500.00", "5200.00", "0.00", 5),  # one more: 医药机构多
        row("390", "21", "8000.00", "5000.00", "0.00", 4),  # medfee less, fund more: 数据不一致
        row("390", "21", "11000.00", "5600.00", "0.00", 3, include_reversals=False),  # s1+s3+s4 only
        # the institution netted the reversals but the row excludes them: centre 11000.00 ≥ 9000.00,
        # 5600.00 ≥ 4900.00, 3 = 3 → 中心多
        row("390", "21", "9000.00", "4900.00", "0.00", 3, include_reversals=False),
    ]
    r = await hospital.post(
        "/v1/reconciliations/totals", json={"date_from": "2026-06-01", "date_to": "2026-06-30", "rows": rows}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["institution_code"] == H3 and body["date_from"] == "2026-06-01"
    got = [(a["insutype"], a["clr_type"], a["stmt_rslt"], a["stmt_rslt_dscr"]) for a in body["rows"]]
    assert got == [
        ("390", "21", "0", "对平"), ("310", "21", "0", "对平"), ("390", "11", "0", "对平"),
        ("390", "21", "1", "中心多"), ("390", "21", "2", "医药机构多"), ("390", "21", "3", "数据不一致"),
        ("390", "21", "0", "对平"), ("390", "21", "1", "中心多"),
    ]  # fmt: skip
    a = body["rows"]
    assert figures(a[0], "center") == ("9000.00", "4900.00", "0.00", 4)
    assert figures(a[1], "center") == ("3000.00", "1400.00", "500.00", 1)
    assert figures(a[1], "institution") == ("3000.00", "1400.00", "500.00", 1)
    assert figures(a[2], "center") == ("0.00", "0.00", "0.00", 0)
    # without reversal records: 5000 + 2000 + 4000 = 11000.00, 2800 + 700 + 2100 = 5600.00, 3
    assert figures(a[7], "center") == ("11000.00", "5600.00", "0.00", 3)


async def test_totals_july_has_the_reversal_of_a_june_settlement(june, ops):
    # July at H3, 390/21: s4's reversal (−4000.00, −2100.00) dated 07-02 and s7 (1200.00, 140.00):
    # −2800.00, −1960.00, count 2. Without reversals: s7 only.
    r = await ops.post("/v1/reconciliations/totals", json={
        "institution_code": H3, "date_from": "2026-07-01", "date_to": "2026-07-31",
        "rows": [row("390", "21", "-2800.00", "-1960.00", "0.00", 2),
                 row("390", "21", "1200.00", "140.00", "0.00", 1, include_reversals=False)]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [x["stmt_rslt"] for x in r.json()["rows"]] == ["0", "0"]
    assert figures(r.json()["rows"][0], "center") == ("-2800.00", "-1960.00", "0.00", 2)


async def test_totals_as_a_function_with_the_insured_region(june, app, world):
    """The national adapter calls the service directly; setl_optins narrows to persons
    insured in that region (all of this world's persons are insured in 441900)."""
    async with app.state.engine.connect() as conn:
        import datetime as dt

        rows = [row("390", "21", "9000.00", "4900.00", "0.00", 4)]
        here = await service.reconcile_totals(conn, H3, dt.date(2026, 6, 1), dt.date(2026, 6, 30), rows, "441900")
        there = await service.reconcile_totals(conn, H3, dt.date(2026, 6, 1), dt.date(2026, 6, 30), rows, "442000")
    assert here[0].stmt_rslt == "0"
    # nobody insured in 442000: the centre has 0 of everything, the institution more → 医药机构多
    assert (there[0].center.count, there[0].center.medfee_sumamt, there[0].stmt_rslt) == (0, 0, "2")


async def test_totals_roles_and_bad_input(june, hospital, ops, make_client, world):
    body = {"date_from": "2026-06-01", "date_to": "2026-06-30", "rows": [row("390", "21", "0", "0", "0", 0)]}
    wallet = await make_client("wallet")
    problem(await wallet.post("/v1/reconciliations/totals", json=body), 403, "forbidden")
    problem(await hospital.post("/v1/reconciliations/totals", json={**body, "institution_code": H2}), 403,
            "institution_not_allowed")  # fmt: skip
    problem(await ops.post("/v1/reconciliations/totals", json=body), 422, "institution_code_required")
    problem(await ops.post("/v1/reconciliations/totals", json={**body, "institution_code": "H99"}), 404,
            "institution_not_found")  # fmt: skip
    problem(await hospital.post("/v1/reconciliations/totals", json={**body, "date_to": "2026-05-01"}), 422,
            "invalid_period")  # fmt: skip
    bad = {**body, "rows": [row("390", "99", "0", "0", "0", 0)]}
    problem(await hospital.post("/v1/reconciliations/totals", json=bad), 422, "validation_error")
    bad = {**body, "rows": [row("390", "21", "1.005", "0", "0", 0)]}
    problem(await hospital.post("/v1/reconciliations/totals", json=bad), 422, "validation_error")
    assert await world.count("reconciliation_runs") == 0
    # ops reconciles any institution; the run is kept
    r = await ops.post("/v1/reconciliations/totals", json={**body, "institution_code": C1})
    assert r.status_code == 200
    run = await world.fetchrow("SELECT kind, institution_code, balanced FROM reconciliation_runs")
    # C1 in June: s5 (200.00, 60.00) under 390/11 — the row asked for 390/21, which C1 has none of
    assert tuple(run) == ("totals", C1, True)


# --------------------------------------------------------------------------- details


def records(s):
    """The June records of H3 as the centre has them: s1, s2, s3, s3's reversal, s4."""
    def rec(x, flag, sign=""):
        t = x["totals"]
        neg = (lambda v: "-" + v if v != "0.00" else v) if sign else (lambda v: v)
        return [x["settlement_id"], x["encounter_id"], x["person_id"], neg(t["total"]), neg(t["fund_total"]),
                neg(t["personal_account"]), flag]  # fmt: skip

    return [rec(s[1], "0"), rec(s[2], "0"), rec(s[3], "0"), rec(s[3], "1", "-"), rec(s[4], "0")]


def as_csv(rows, delimiter=","):
    return "\n".join([HEADER.replace(",", delimiter)] + [delimiter.join(r) for r in rows]) + "\n"


def as_ndjson(rows):
    keys = HEADER.split(",")
    return "".join(json.dumps(dict(zip(keys, r))) + "\n" for r in rows)


async def post_details(client, content, media="text/csv", query="date_from=2026-06-01&date_to=2026-06-30", **h):
    return await client.post(f"/v1/reconciliations/details?{query}", content=content,
                             headers={"content-type": media, **h})  # fmt: skip


async def test_details_all_matched_in_every_format(june, hospital):
    recs = records(june)
    for content, media in ((as_csv(recs), "text/csv"), (as_csv(recs, "\t"), "text/tab-separated-values"),
                           (as_ndjson(recs), "application/x-ndjson")):  # fmt: skip
        r = await post_details(hospital, content, media)
        assert r.status_code == 200, r.text
        assert r.json() == {"summary": {"institution_records": 5, "center_records": 5, "matched": 5,
                                        "only_center": 0, "only_institution": 0, "amounts_differ": 0},
                            "differences": []}  # fmt: skip


async def test_details_perturbed(june, hospital, world):
    recs = records(june)
    s1, s2, s3, s3r, s4 = recs
    extra = [str(uuid.uuid4()), "EX", "A1", "10.00", "5.00", "0.00", "0"]
    s1_changed = s1[:4] + ["2799.99"] + s1[5:]
    s4r = [june[4]["settlement_id"], "E4", "A1", "-4000.00", "-2100.00", "0.00", "1"]  # the centre dates it 07-02
    # sent: s1 (fund 2799.99), s3, s4, s4's reversal, extra; missing: s2, s3's reversal
    sent = [s1_changed, s3, s4, s4r, extra]
    r = await post_details(hospital, as_csv(sent))
    assert r.status_code == 200, r.text
    body = r.json()
    # institution 5 = matched 2 (s3, s4) + differ 1 (s1) + only_institution 2 (s4r, extra);
    # centre 5 = 2 + 1 + only_center 2 (s2, s3r)
    assert body["summary"] == {"institution_records": 5, "center_records": 5, "matched": 2, "only_center": 2,
                               "only_institution": 2, "amounts_differ": 1}  # fmt: skip
    got = {(d["settlement_id"], d["refd_setl_flag"]): d for d in body["differences"]}
    assert set(got) == {(s1[0], "0"), (s2[0], "0"), (s3r[0], "1"), (s4r[0], "1"), (extra[0], "0")}
    d = got[(s1[0], "0")]
    assert (d["kind"], d["stmt_rslt"]) == ("amounts_differ", "3")
    assert d["center"] == {"medfee_sumamt": "5000.00", "fund_pay_sumamt": "2800.00", "acct_pay": "0.00"}
    assert d["institution"] == {"medfee_sumamt": "5000.00", "fund_pay_sumamt": "2799.99", "acct_pay": "0.00"}
    d = got[(s2[0], "0")]
    assert (d["kind"], d["stmt_rslt"], d["institution"]) == ("only_center", "1", None)
    assert d["center"] == {"medfee_sumamt": "3000.00", "fund_pay_sumamt": "1400.00", "acct_pay": "500.00"}
    d = got[(s3r[0], "1")]
    assert d["kind"] == "only_center" and d["center"]["medfee_sumamt"] == "-2000.00"
    d = got[(s4r[0], "1")]
    assert (d["kind"], d["stmt_rslt"], d["center"]) == ("only_institution", "2", None)
    assert d["institution"] == {"medfee_sumamt": "-4000.00", "fund_pay_sumamt": "-2100.00", "acct_pay": "0.00"}

    # the same as CSV
    r = await post_details(hospital, as_csv(sent), accept="text/csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0] == ("settlement_id,refd_setl_flag,kind,stmt_rslt,center_medfee_sumamt,center_fund_pay_sumamt,"
                        "center_acct_pay,institution_medfee_sumamt,institution_fund_pay_sumamt,"
                        "institution_acct_pay").split(",")  # fmt: skip
    by_key = {(x[0], x[1]): x for x in lines[1:]}
    assert len(by_key) == 5
    assert by_key[(s2[0], "0")][2:] == ["only_center", "1", "3000.00", "1400.00", "500.00", "", "", ""]
    assert by_key[(s1[0], "0")][2:] == ["amounts_differ", "3", "5000.00", "2800.00", "0.00", "5000.00", "2799.99",
                                        "0.00"]  # fmt: skip
    assert by_key[(s4r[0], "1")][2:] == ["only_institution", "2", "", "", "", "-4000.00", "-2100.00", "0.00"]
    # both runs were kept, unbalanced
    assert [r["balanced"] for r in await world.fetch("SELECT balanced FROM reconciliation_runs")] == [False, False]


async def test_details_bad_files_name_the_line_and_keep_nothing(june, hospital, world, monkeypatch):
    recs = records(june)
    before = await world.counts()

    r = await post_details(hospital, "settlement_id,encounter_id\n" + as_csv(recs).split("\n", 1)[1])
    assert problem(r, 422, "reconciliation_file_invalid")["errors"][0]["loc"] == ["body", "line", 1]
    bad = [list(x) for x in recs]
    bad[1][4] = "14OO.00"  # the letter O: line 3 (header is line 1)
    body = problem(await post_details(hospital, as_csv(bad)), 422, "reconciliation_file_invalid")
    assert body["detail"].startswith("line 3:") and "fund_pay_sumamt" in body["detail"]
    bad = [list(x) for x in recs]
    bad[2][3] = "2000.001"
    assert problem(await post_details(hospital, as_csv(bad)), 422, "reconciliation_file_invalid")["detail"].startswith(
        "line 4:"
    )
    dup = recs[:3] + [recs[1]]  # line 5 repeats line 3
    body = problem(await post_details(hospital, as_csv(dup)), 422, "duplicate_record")
    assert body["detail"] == "line 5: settlement_id and refd_setl_flag repeat line 3"
    body = problem(await post_details(hospital, as_ndjson(recs[:2]) + '{"settlement_id": 1}\n',
                                      "application/x-ndjson"), 422, "reconciliation_file_invalid")  # fmt: skip
    assert body["errors"][0]["loc"] == ["body", "line", 3]
    bad = [list(x) for x in recs]
    bad[0][6] = "2"
    assert problem(await post_details(hospital, as_csv(bad)), 422, "reconciliation_file_invalid")["detail"].startswith(
        "line 2:"
    )
    bad = [list(x) for x in recs]
    bad[3][0] = "not-a-uuid"
    assert problem(await post_details(hospital, as_csv(bad)), 422, "reconciliation_file_invalid")["detail"].startswith(
        "line 5:"
    )
    problem(await post_details(hospital, b"\xff\xfe" + as_csv(recs).encode()), 422, "reconciliation_file_invalid")
    problem(await post_details(hospital, ""), 422, "reconciliation_file_invalid")
    problem(await post_details(hospital, as_csv(recs), "application/json"), 415, "unsupported_media_type")
    # too large: more records than allowed, and more bytes than allowed
    monkeypatch.setattr(service, "MAX_RECORDS", 3)
    body = problem(await post_details(hospital, as_csv(recs)), 413, "body_too_large")
    assert body["detail"].startswith("line 5:")
    monkeypatch.setattr(service, "MAX_RECORDS", 1_000_000)
    monkeypatch.setattr(service, "MAX_BODY_BYTES", 200)
    problem(await post_details(hospital, as_csv(recs)), 413, "body_too_large")
    assert await world.counts() == before


async def test_details_roles(june, hospital, ops, make_client):
    content = as_csv(records(june))
    wallet = await make_client("wallet")
    problem(await post_details(wallet, content), 403, "forbidden")
    problem(await post_details(hospital, content, query=f"date_from=2026-06-01&date_to=2026-06-30&institution_code={H2}"),
            403, "institution_not_allowed")  # fmt: skip
    problem(await post_details(ops, content), 422, "institution_code_required")
    r = await post_details(ops, content, query=f"date_from=2026-06-01&date_to=2026-06-30&institution_code={H3}")
    assert r.status_code == 200 and r.json()["summary"]["matched"] == 5
    # another institution's period: H2 has no records, so every sent one is only_institution
    r = await post_details(ops, content, query=f"date_from=2026-06-01&date_to=2026-06-30&institution_code={H2}")
    assert r.json()["summary"] == {"institution_records": 5, "center_records": 0, "matched": 0, "only_center": 0,
                                   "only_institution": 5, "amounts_differ": 0}  # fmt: skip
