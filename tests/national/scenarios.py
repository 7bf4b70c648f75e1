"""Settlements of several kinds through the envelope, for the identity tests: every fund
layer (basic, CI for residents and employees, medical aid, secondary aid, fallback, the
personal account) paying in at least one answer."""

from __future__ import annotations

from typing import Any

from tests.national.flows import EMPLOYEE, RESIDENT, admit, fee_rows, register, settle_data

#: A big inpatient bill: 35 days' bed (Dongguan cap 50 → 10 over per day), the stent
#: operation, two stents and a category-C item.
BIG = [
    ("B1", "001102000010000", "35", "60.00"),
    ("B2", "331501001000000", "1", "5000.00"),
    ("B3", "C0301010010000001", "2", "1000.00"),
    ("B4", "250101001000000", "20", "20.00"),
    ("B5", "120100001000000", "1", "3000.00"),
    ("B6", "311201001000000", "30", "400.00"),
]

#: A bill large enough for residents' critical-illness insurance 大病保险: 100 dialysis sessions.
HUGE = BIG[:5] + [("B6", "311201001000000", "100", "400.00")]


async def inpatient(his, db, person_id: str, insutype: str, lines=BIG) -> dict[str, Any]:
    """2401 → 2301 → 2402 → 2304 → 2305: returns {"settle": output, "reverse": output, "before": balance}."""
    before = await db.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", person_id)
    mdtrt_id = await admit(his, db, person_id, insutype=insutype)
    await his.ok("2301", {"feedetail": fee_rows(mdtrt_id, person_id, lines, batch=None)})
    await his.ok("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": person_id, "insutype": insutype,
                                       "endtime": "2026-06-15 09:00:00", "dscg_dept_codg": "A", "dscg_dept_name": "A",
                                       "dscg_way": "1"}})  # fmt: skip
    pre = await his.ok("2303", settle_data(mdtrt_id, person_id, None, batch=None, insutype=insutype, med_type="21"))
    settled = await his.ok("2304", settle_data(mdtrt_id, person_id, None, batch=None, insutype=insutype, med_type="21"))
    reversed_ = await his.ok("2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": settled["setlinfo"]["setl_id"],
                                              "psn_no": person_id}})  # fmt: skip
    return {"preview": pre, "settle": settled, "reverse": reversed_, "before": before}


async def outpatient(his, db, person_id: str, insutype: str, lines) -> dict[str, Any]:
    before = await db.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", person_id)
    mdtrt_id = await register(his, db, person_id)
    await his.ok("2204", {"feedetail": fee_rows(mdtrt_id, person_id, lines)})
    pre = await his.ok("2206", settle_data(mdtrt_id, person_id, None, insutype=insutype))
    settled = await his.ok("2207", settle_data(mdtrt_id, person_id, None, insutype=insutype))
    reversed_ = await his.ok("2208", {"data": {"mdtrt_id": mdtrt_id, "setl_id": settled["setlinfo"]["setl_id"],
                                              "psn_no": person_id}})  # fmt: skip
    return {"preview": pre, "settle": settled, "reverse": reversed_, "before": before}


async def all_kinds(his_factory, db) -> dict[str, dict[str, Any]]:
    h3 = his_factory("H44190000001")
    c1 = his_factory("C44190000001")
    suining = his_factory("H51090000001")
    small = [("F1", "XC10AAA001A001010100", "2", "30.00"), ("F2", "ZA01AAA001A001010100", "1", "40.00"),
             ("F3", "XA11XXA001A001010100", "1", "8.00")]  # fmt: skip
    return {
        "resident outpatient": await outpatient(c1, db, RESIDENT, "390", small),
        "employee outpatient (account)": await outpatient(h3, db, EMPLOYEE, "310", small),
        "retired employee inpatient (大额, account)": await inpatient(h3, db, "P441900000008", "310"),
        "extreme poverty inpatient (CI, aid, secondary aid)": await inpatient(h3, db, "P441900000002", "390"),
        "minimum living inpatient, huge bill (大病)": await inpatient(h3, db, "P441900000003", "390", HUGE),
        "Suining registered poor inpatient (fallback)": await inpatient(suining, db, "P510900000004", "390"),
    }

