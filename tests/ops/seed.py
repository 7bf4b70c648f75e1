"""A dashboard world: live settlements over the last days, a reversal, a capped encounter,
an aid recipient, and two reconciliation runs of one period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tests.reconciliation.world import CST, inpatient, outpatient, reverse_at, settle_at
from tests.world import add_person

PAYING = ("basic_fund", "critical_illness", "medical_aid", "fallback", "secondary_aid")
FUNDS = {"basic": "basic_fund", "critical_illness": "critical_illness", "medical_aid": "medical_aid",
         "fallback": "fallback", "secondary_aid": "secondary_aid", "personal_account": "personal_account",
         "cash": "cash"}  # fmt: skip


def day(n: int, hour: int = 9) -> dt.datetime:
    """``n`` days ago at ``hour`` (+08:00), never in the future."""
    now = dt.datetime.now(CST)
    when = (now - dt.timedelta(days=n)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return min(when, now - dt.timedelta(seconds=5))


async def seed(app: Any, db: Any, hospital: Any, community: Any, ops: Any) -> dict[str, Any]:
    await add_person(db, "A1")
    await add_person(db, "B1", insutype="310", balance="500.00")
    await add_person(db, "D1")
    await add_person(db, "M1", aid_category="minimum_living")
    live = [
        await settle_at(app, hospital, day(2), inpatient("A1", "5000.00", "E1")),
        await settle_at(app, hospital, day(1), inpatient("B1", "3000.00", "E2")),
        await settle_at(app, community, day(1, 10), outpatient("D1", "2000.00", "E3")),  # limit 1000.00: capped
        await settle_at(app, hospital, day(0, 0), inpatient("M1", "30000.00", "E4")),
    ]
    gone = await settle_at(app, hospital, day(1, 11), inpatient("A1", "2000.00", "E5"))
    await reverse_at(app, hospital, day(1, 12), gone["settlement_id"])
    # the period reconciled last: H3 balanced totals, C1 an unbalanced detail file (empty)
    period = {"date_from": day(2).date().isoformat(), "date_to": day(0).date().isoformat()}
    r = await ops.post("/v1/reconciliations/totals", json={**period, "institution_code": hospital.institution_code,
                       "rows": [{"insutype": "310", "clr_type": "21", "medfee_sumamt": "3000.00",
                                 "fund_pay_sumamt": "1400.00", "acct_pay": "500.00", "count": 1}]})  # fmt: skip
    assert r.status_code == 200 and r.json()["rows"][0]["stmt_rslt"] == "0", r.text
    r = await ops.post(
        f"/v1/reconciliations/details?date_from={period['date_from']}&date_to={period['date_to']}"
        f"&institution_code={community.institution_code}",
        content="settlement_id,encounter_id,person_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["summary"]["only_center"] == 1, r.text
    return {"live": live, "period": period}


def expected(world: dict[str, Any]) -> dict[str, Any]:
    """What the dashboard must show, summed here from the settlements' own responses."""
    live = world["live"]

    def total(column: str, rows: list[dict[str, Any]] = live) -> Decimal:
        return sum((Decimal(s["totals"][column]) for s in rows), Decimal("0"))

    by_inst: dict[str, Decimal] = {}
    for s in live:
        by_inst[s["institution_code"]] = by_inst.get(s["institution_code"], Decimal(0)) + sum(
            Decimal(s["totals"][c]) for c in PAYING
        )
    m1 = [s for s in live if s["person_id"] == "M1"]
    days: dict[str, int] = {}
    for s in live:
        d = dt.datetime.fromisoformat(s["settled_at"]).astimezone(CST).date().isoformat()
        days[d] = days.get(d, 0) + 1
    return {
        "settlements": len(live),
        "by_fund": {f: total(c) for f, c in FUNDS.items() if total(c)},
        "by_institution": by_inst,
        "capped": sum(1 for s in live if s["totals"]["over_cap"] != "0.00"),
        "aid_minimum_living": total("medical_aid", m1) + total("secondary_aid", m1) + total("fallback", m1),
        "days": days,
    }
