"""The settlement's JSON body (api.md, "Response"): the one place it is written.

Money leaves the engine as `Decimal` whole cents and becomes text here, once, through
`app.engine.money.money_text` (the same function `MoneyOut` serialises with), so no
amount is ever a JSON number or a float. The settled body is rendered once, at
settlement time, and stored as it was sent (`settlements.response`): a replay of the
same Idempotency-Key answers those very bytes. A read or a reversal changes only
``status`` and ``reversed_at``; `with_status` patches those two fields of the stored
text, so the amounts are never parsed or formatted again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson

from app.engine.model import Settlement
from app.engine.money import decimal_text, money_text
from app.kit.clock import CST


def iso(moment: dt.datetime) -> str:
    """RFC 3339 in China Standard Time, however the driver returned it."""
    return moment.astimezone(CST).isoformat()


def settlement_body(
    result: Settlement,
    *,
    settlement_id: uuid.UUID | None,
    status: str,
    institution_code: str,
    person_id: str,
    encounter_id: str,
    encounter_date: dt.date,
    settled_at: dt.datetime | None,
) -> dict[str, Any]:
    """The itemised settlement as JSON-ready values (money already text)."""
    t = result.totals
    return {
        "settlement_id": str(settlement_id) if settlement_id else None,
        "status": status,
        "institution_code": institution_code,
        "person_id": person_id,
        "encounter_id": encounter_id,
        "insutype": result.insutype,
        "med_type": result.med_type,
        "encounter_date": encounter_date.isoformat(),
        "accumulation_year": result.accumulation_year,
        "policy_version": result.policy_version,
        "cross_region": result.cross_region,
        "settled_at": iso(settled_at) if settled_at else None,
        "reversed_at": None,
        "totals": {name: money_text(getattr(t, name)) for name in t.__dataclass_fields__},
        "funds": [
            {
                "fund": f.fund,
                "fund_pay_type": f.fund_pay_type,
                "amount": money_text(f.amount),
                "basis": money_text(f.basis),
                "explanation": f.explanation,
            }
            for f in result.funds
        ],
        "items": [
            {
                "line_no": i.line_no,
                "code": i.code,
                "name": i.name,
                "qty": decimal_text(i.qty),
                "unit_price": decimal_text(i.unit_price),
                "amount": money_text(i.amount),
                "category": i.category,
                "self_pay_full": money_text(i.self_pay_full),
                "over_limit": money_text(i.over_limit),
                "pre_self_pay": money_text(i.pre_self_pay),
                "in_scope": money_text(i.in_scope),
                "reason": i.reason,
            }
            for i in result.items
        ],
    }


def render(result: Settlement, **fields: Any) -> bytes:
    """`settlement_body` as compact UTF-8 JSON (orjson, non-ASCII as is). Bytes, not
    text: they go to the socket and (as ``bytea``, decoded by the server) to the stored
    column as they are; a ``str`` would be encoded twice for nothing (an inpatient
    body is ≈ 11 kB, mostly CJK names: 4 % of its settlement's CPU, measured)."""
    return orjson.dumps(settlement_body(result, **fields))


# The stored body always carries these two fields exactly so (rendered above, with the
# status "settled" and no reversal): `with_status` relies on it, and a test checks it.
_SETTLED = b'"status":"settled"'
_NOT_REVERSED = b'"reversed_at":null'


def with_status(stored: bytes, status: str, reversed_at: dt.datetime | None) -> bytes:
    """The stored settled body with the settlement's present status and reversal time."""
    if status == "settled":
        return stored
    reversed_text = orjson.dumps(iso(reversed_at)) if reversed_at else b"null"
    return stored.replace(_SETTLED, b'"status":' + orjson.dumps(status), 1).replace(
        _NOT_REVERSED, b'"reversed_at":' + reversed_text, 1
    )


def stored_body(settlement: Any) -> bytes:
    """A `StoredSettlement`'s body as served now: its present status and reversal time."""
    return with_status(settlement.response, settlement.status, settlement.reversed_at)


def preview_body(previewed: Any) -> bytes:
    """A `Previewed` as the preview's body: status "preview", no id, no settlement time."""
    return render(
        previewed.result,
        settlement_id=None,
        status="preview",
        institution_code=previewed.institution_code,
        person_id=previewed.person_id,
        encounter_id=previewed.encounter_id,
        encounter_date=previewed.encounter_date,
        settled_at=None,
    )


def list_page(rows: Any, next_cursor: str | None) -> dict[str, Any]:
    return {"items": [list_item(r) for r in rows], "next_cursor": next_cursor}


def list_item(record: Any) -> dict[str, Any]:
    """One row of GET /v1/settlements."""
    return {
        "settlement_id": str(record["settlement_id"]),
        "status": record["status"],
        "institution_code": record["institution_code"],
        "person_id": record["person_id"],
        "encounter_id": record["encounter_id"],
        "med_type": record["med_type"],
        "encounter_date": record["encounter_date"].isoformat(),
        "settled_at": iso(record["settled_at"]),
        "reversed_at": iso(record["reversed_at"]) if record["reversed_at"] else None,
        "total": money_text(record["total"]),
        "fund_total": money_text(record["fund_total"]),
        "cash": money_text(record["cash"]),
    }
