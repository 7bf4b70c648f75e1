"""Monthly certification of applications (seed 004): the batch month, a batch with approvals and
refusals, all or nothing (409), the ledger as JSON and CSV, the audit of every decision."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from tests.chronic.world import C1S, H2S, H3S, add_person
from tests.helpers import problem

pytestmark = pytest.mark.asyncio

CST = dt.timezone(dt.timedelta(hours=8))


def at(app, moment: dt.datetime) -> None:
    app.state.clock = lambda: moment


@pytest.fixture(autouse=True)
def _real_clock_after(app):
    """`at` moves the app's clock; the next test (anywhere) gets the real one back."""
    yield
    if hasattr(app.state, "clock"):
        del app.state.clock


def application(disease: str = "M03900", sites=(H2S,), evidence=("门诊病历 2026-03-02",)) -> dict:
    return {"disease_code": disease, "sites": list(sites) if not isinstance(sites, str) else sites,
            "evidence": list(evidence)}


async def apply(client, person_id, body):
    r = await client.post(f"/v1/persons/{person_id}/chronic-applications", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_the_batch_month_follows_the_25th_in_china_time(app, world, inst, ops):
    await add_person(world, "A1")
    point = await inst(C1S)
    # 25 March 23:59 +08:00: this month. 25 March 16:30 UTC is 26 March 00:30 +08:00: next month.
    at(app, dt.datetime(2026, 3, 25, 23, 59, tzinfo=CST))
    assert (await apply(point, "A1", application()))["month"] == "2026-03"
    at(app, dt.datetime(2026, 3, 25, 16, 30, tzinfo=dt.timezone.utc))
    assert (await apply(point, "A1", application()))["month"] == "2026-04"
    at(app, dt.datetime(2026, 3, 1, 0, 0, tzinfo=CST))
    assert (await apply(point, "A1", application()))["month"] == "2026-03"
    # December 26th joins January's batch of the next year.
    at(app, dt.datetime(2026, 12, 26, 9, 0, tzinfo=CST))
    created = await apply(ops, "A1", application())
    assert created["month"] == "2027-01" and created["status"] == "pending" and created["applied_by"] is None
    problem(await point.post("/v1/persons/NOPE/chronic-applications", json=application()), 404, "person_not_found")
    # A settlement id given as evidence must be one of this person's settlements.
    bad = application(evidence=["0190d6a4-0000-7000-8000-000000000001"])
    problem(await point.post("/v1/persons/A1/chronic-applications", json=bad), 422, "evidence_invalid")


async def test_batch_with_approvals_and_refusals_then_409_all_or_nothing(app, world, inst, ops):
    await add_person(world, "B1")
    await add_person(world, "B2")
    await add_person(world, "B3", aid_category="registered_poor", tiers=(("2020-01-01", None, 1),))
    await add_person(world, "B4")
    point = await inst(C1S)
    at(app, dt.datetime(2026, 3, 10, 9, 0, tzinfo=CST))
    a1 = (await apply(point, "B1", application("M03900", [H2S])))["application_id"]
    a2 = (await apply(point, "B2", application("M03900", [H2S])))["application_id"]
    a3 = (await apply(ops, "B3", application("M07900", [H2S])))["application_id"]
    a4 = (await apply(point, "B4", application("M03900", [H3S])))["application_id"]
    at(app, dt.datetime(2026, 3, 28, 9, 0, tzinfo=CST))
    a5 = (await apply(point, "B4", application("M03900", [H3S])))["application_id"]  # April's batch

    # Month-end batch 31 March: approve B1 (default validity), refuse B2, approve B3 with dates.
    at(app, dt.datetime(2026, 3, 31, 17, 0, tzinfo=CST))
    batch = {"month": "2026-03", "decisions": [
        {"application_id": a1, "decision": "approve"},
        {"application_id": a2, "decision": "refuse", "reason": "血压记录不足三次, 不符合鉴定标准"},
        {"application_id": a3, "decision": "approve", "valid_from": "2026-04-01", "valid_to": "2027-03-31"},
    ]}  # fmt: skip
    r = await ops.post("/v1/chronic-applications/batches", json=batch)
    assert r.status_code == 200, r.text
    results = {x["application_id"]: x for x in r.json()["results"]}
    assert results[a1]["status"] == "approved" and results[a2]["status"] == "refused"
    assert results[a2]["registration_id"] is None and results[a3]["status"] == "approved"

    regs = {
        r["person_id"]: r
        for r in await world.fetch(
            "SELECT registration_id, person_id, disease_code, certifier_code, valid_from, valid_to, sites"
            " FROM special_disease_registrations"
        )
    }
    assert set(regs) == {"B1", "B3"}
    # B1: certifier = the applying service point, from the decision date to 31 December.
    assert (regs["B1"]["certifier_code"], regs["B1"]["valid_from"], regs["B1"]["valid_to"]) == (
        C1S, dt.date(2026, 3, 31), dt.date(2026, 12, 31))
    # B3: ops applied, so no certifier (ops decisions are not subject to certified_by min_level 2).
    assert (regs["B3"]["certifier_code"], regs["B3"]["valid_from"], regs["B3"]["valid_to"]) == (
        None, dt.date(2026, 4, 1), dt.date(2027, 3, 31))
    assert str(regs["B1"]["registration_id"]) == results[a1]["registration_id"]

    # Again with a decided application (a2) beside a pending one (a4): 409, nothing changes.
    again = {"month": "2026-03", "decisions": [
        {"application_id": a4, "decision": "approve"},
        {"application_id": a2, "decision": "approve"},
    ]}  # fmt: skip
    problem(await ops.post("/v1/chronic-applications/batches", json=again), 409, "application_decided")
    assert await world.fetchval("SELECT status FROM chronic_applications WHERE application_id = $1::uuid", a4) == "pending"
    assert await world.fetchval("SELECT count(*) FROM special_disease_registrations") == 2
    # Another month's application (a5 is April's) or an unknown one: nothing decided either.
    other = {"month": "2026-03", "decisions": [{"application_id": a5, "decision": "approve"}]}
    problem(await ops.post("/v1/chronic-applications/batches", json=other), 422, "application_not_in_batch")
    unknown = {"month": "2026-03", "decisions": [{"application_id": "0190d6a4-0000-7000-8000-00000000ffff",
                                                  "decision": "refuse", "reason": "x"}]}
    problem(await ops.post("/v1/chronic-applications/batches", json=unknown), 404, "application_not_found")
    # A refusal needs its reason (书面告知).
    no_reason = {"month": "2026-03", "decisions": [{"application_id": a4, "decision": "refuse"}]}
    problem(await ops.post("/v1/chronic-applications/batches", json=no_reason), 422, "validation_error")
    # Institutions do not decide.
    problem(await point.post("/v1/chronic-applications/batches", json=no_reason), 403, "forbidden")

    # Every decision is audited (3), besides the 5 applications.
    actions = [r["action"] for r in await world.fetch(
        "SELECT action FROM audit_log WHERE action LIKE 'chronic_application.%' ORDER BY audit_id")]
    assert actions.count("chronic_application.create") == 5
    assert sorted(a for a in actions if a != "chronic_application.create") == [
        "chronic_application.approve", "chronic_application.approve", "chronic_application.refuse"]

    # The ledger 台账: March's lines in order of filing, with status, reason, registration.
    ledger = (await ops.get("/v1/chronic-applications", params={"month": "2026-03"})).json()
    lines = [(x["person_id"], x["status"], x["applied_by"]) for x in ledger["items"]]
    assert lines == [("B1", "approved", C1S), ("B2", "refused", C1S), ("B3", "approved", None), ("B4", "pending", C1S)]
    assert ledger["items"][1]["reason"] == "血压记录不足三次, 不符合鉴定标准"
    assert ledger["items"][0]["registration_id"] == results[a1]["registration_id"]
    refused = (await ops.get("/v1/chronic-applications", params={"status": "refused"})).json()["items"]
    assert [x["application_id"] for x in refused] == [a2]
    page = (await ops.get("/v1/chronic-applications", params={"month": "2026-03", "limit": 3})).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = (await ops.get("/v1/chronic-applications", params={"month": "2026-03", "cursor": page["next_cursor"]})).json()
    assert [x["person_id"] for x in rest["items"]] == ["B4"] and rest["next_cursor"] is None

    r = await ops.get("/v1/chronic-applications", params={"month": "2026-03"}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["person_id"], x["status"]) for x in rows] == [
        ("B1", "approved"), ("B2", "refused"), ("B3", "approved"), ("B4", "pending")]
    assert rows[1]["reason"] == "血压记录不足三次, 不符合鉴定标准" and rows[3]["decided_at"] == ""
    assert rows[0]["decided_at"] == "2026-03-31T17:00:00+08:00"


async def test_an_approval_a_rule_refuses_refuses_the_batch(app, world, inst, ops):
    await add_person(world, "O1")  # an ordinary resident applying for the poor's disease
    await add_person(world, "B1")
    point = await inst(C1S)
    at(app, dt.datetime(2026, 5, 3, 9, 0, tzinfo=CST))
    a1 = (await apply(point, "B1", application("M03900", [H2S])))["application_id"]
    a2 = (await apply(point, "O1", application("M07900", [H2S])))["application_id"]
    batch = {"month": "2026-05", "decisions": [{"application_id": a1, "decision": "approve"},
                                               {"application_id": a2, "decision": "approve"}]}
    problem(await ops.post("/v1/chronic-applications/batches", json=batch), 422, "disease_not_covered")
    assert await world.fetchval("SELECT count(*) FROM chronic_applications WHERE status = 'pending'") == 2
    assert await world.fetchval("SELECT count(*) FROM special_disease_registrations") == 0
    # Refusing it instead lets the batch through.
    batch["decisions"][1] = {"application_id": a2, "decision": "refuse", "reason": "非建档立卡贫困人口, 病种不适用"}
    assert (await ops.post("/v1/chronic-applications/batches", json=batch)).status_code == 200
