"""Every call the national interface makes into settlement, persons and reference data.

The adapter (app/national) never computes a settlement: it translates messages into a
`SettlementRequest` and answers from the settlement the one settlement path stored.
This module is the only place it reaches across: a handful of functions with small,
documented contracts, implemented on the one settlement pipeline and the settlement
service (app/settlement): a 2207/2304/2102 is settled by `SettlementPipeline.settle`,
exactly as ``POST /v1/settlements`` is, never by a second implementation.

Contracts (all take an asyncpg connection ``conn`` outside any transaction unless said):

- `preview(conn, state, request, caller)` → the settlement JSON text (status ``preview``),
  exactly what ``POST /v1/settlements/preview`` answers. Writes nothing.
- `settle(conn, state, request, caller, key, raw)` → `Settled` (JSON text, replayed?),
  exactly what ``POST /v1/settlements`` answers with ``Idempotency-Key: key`` and body
  ``raw``: the same key and bytes replay, other bytes raise ``idempotency_key_reused``.
- `reverse(conn, state, settlement_id, caller)` → the JSON text with status ``reversed``;
  inside the caller's transaction (``async with conn.transaction()``).
- `stored_settlement`, `settlement_for_key`, `live_settlement_id`: reads of stored
  settlements (by id, by idempotency key, the live one of an encounter).
- `person`, `person_by_certno`, `person_by_e_voucher`, `record_lookup`: who the patient
  is (a lookup by e-voucher code does not consume it) and the audit row of a lookup.
- `accumulators`, `fund_paid`: the year's accumulators and what each fund paid.
- `institution`, `classify`: reference data and the engine's own line classification.
- `reconcile_totals`: the 3201 / ``POST /v1/reconciliations/totals`` comparison.

Refusals are the settlement domain's `ProblemError`s, raised as they are; the adapter
turns them into ``infcode -1``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from app.engine.classify import classify_line
from app.engine.model import CatalogItem, Institution, ItemResult
from app.evouchers.service import resolve_e_voucher
from app.kit.clock import now
from app.settlement import rendering
from app.settlement import repository as settlement_repo
from app.settlement.exceptions import SettlementNotFound
from app.settlement.router import settlement_pipeline
from app.settlement.schemas import SettlementRequest
from app.settlement.service import Caller, to_encounter

# --------------------------------------------------------------------------- settlement


@dataclass(frozen=True, slots=True)
class Settled:
    body: str
    replayed: bool


async def preview(conn: asyncpg.Connection, state: Any, request: SettlementRequest, caller: Caller) -> str:
    """预结算, as ``POST /v1/settlements/preview``."""
    return rendering.preview_body(await settlement_pipeline(state).service.preview(conn, request, caller)).decode()


async def settle(
    conn: asyncpg.Connection, state: Any, request: SettlementRequest, caller: Caller, key: str, raw: bytes
) -> Settled:
    """结算, as ``POST /v1/settlements``: the one settlement pipeline, with ``raw`` (the
    request's canonical JSON) as the body and ``key`` (the message's msgid) as the
    Idempotency-Key. The pipeline takes its own connection (``conn`` is not used)."""
    settled = await settlement_pipeline(state).settle(caller, key, raw)
    return Settled(settled.settlement.response.decode(), settled.replayed)


async def reverse(conn: asyncpg.Connection, state: Any, settlement_id: uuid.UUID, caller: Caller) -> str:
    """撤销, as ``POST /v1/settlements/{id}/reversal`` (a second reversal answers the same).
    Must run inside the caller's transaction."""
    reversal = await settlement_pipeline(state).service.reverse(conn, settlement_id, caller)
    return rendering.stored_body(reversal.settlement).decode()


async def stored_settlement(
    conn: asyncpg.Connection, state: Any, settlement_id: uuid.UUID, caller: Caller
) -> str | None:
    """The settlement as ``GET /v1/settlements/{id}`` answers it, or None (unknown or another's)."""
    try:
        stored = await settlement_pipeline(state).service.get(conn, settlement_id, caller)
    except SettlementNotFound:
        return None
    return rendering.stored_body(stored).decode()


async def settlement_for_key(conn: asyncpg.Connection, institution_code: str, key: str) -> str | None:
    """The response stored under this institution's idempotency key, if a settlement took it."""
    row = await settlement_repo.find_idempotent(conn, institution_code, key)
    return None if row is None else row["response"].decode()


async def live_settlement_id(conn: asyncpg.Connection, institution_code: str, encounter_id: str) -> uuid.UUID | None:
    """The encounter's live (not reversed) settlement, if any."""
    return await conn.fetchval(
        "SELECT settlement_id FROM settlements WHERE institution_code = $1 AND encounter_id = $2 AND status = 'settled'",
        institution_code,
        encounter_id,
    )


# --------------------------------------------------------------------------- reference data


async def institution(conn: asyncpg.Connection, state: Any, code: str) -> Institution | None:
    """The institution as settlement sees it (cached per reference generation)."""
    return await settlement_pipeline(state).service.reference.institution(conn, code)


@dataclass(frozen=True, slots=True)
class ClassifiedLine:
    item: ItemResult
    catalog: CatalogItem | None


async def classify(conn: asyncpg.Connection, state: Any, request: SettlementRequest) -> list[ClassifiedLine]:
    """Each line split into 全自费 / 超限价 / 先行自付 / 政策范围内 by the engine's own
    `classify_line`, against the treatment place's catalog chain — what a settlement of
    these lines would itemise. Needs ``request.institution_code``."""
    cache = settlement_pipeline(state).service.reference
    assert request.institution_code is not None
    inst = await cache.institution(conn, request.institution_code)
    if inst is None:
        return []
    catalog = await cache.catalog_items(conn, inst.region, {item.code for item in request.items})
    encounter = to_encounter(request)
    return [
        ClassifiedLine(classify_line(line, catalog.get(line.code), encounter, inst), catalog.get(line.code))
        for line in encounter.lines
    ]


# --------------------------------------------------------------------------- persons


@dataclass(frozen=True, slots=True)
class PersonInfo:
    person_id: str
    certno: str
    name: str
    gender: str
    birth_date: dt.date
    insured_region: str
    retired: bool
    aid_category: str | None
    account_balance: Decimal
    #: (insutype, valid_from, valid_to) of every enrollment
    enrollments: tuple[tuple[str, dt.date, dt.date | None], ...]


_PERSON_SQL = """
SELECT p.person_id, p.certno, p.name, p.gender, p.birth_date, p.insured_region, p.retired, p.aid_category,
       p.account_balance,
       ARRAY(SELECT ROW(e.insutype, e.valid_from, e.valid_to) FROM enrollments e
             WHERE e.person_id = p.person_id ORDER BY e.valid_from, e.insutype) AS enrollments
FROM persons p"""


def _person(row: asyncpg.Record | None) -> PersonInfo | None:
    if row is None:
        return None
    return PersonInfo(
        person_id=row["person_id"],
        certno=row["certno"],
        name=row["name"],
        gender=row["gender"],
        birth_date=row["birth_date"],
        insured_region=row["insured_region"],
        retired=row["retired"],
        aid_category=row["aid_category"],
        account_balance=row["account_balance"],
        enrollments=tuple((t, f, u) for t, f, u in row["enrollments"]),
    )


async def person(conn: asyncpg.Connection, person_id: str) -> PersonInfo | None:
    return _person(await conn.fetchrow(_PERSON_SQL + " WHERE p.person_id = $1", person_id))


async def person_by_certno(conn: asyncpg.Connection, certno: str) -> PersonInfo | None:
    """By 身份证号 (an X check digit matches in either case)."""
    return _person(
        await conn.fetchrow(
            _PERSON_SQL + " WHERE p.certno IN ($1::text, upper($1::text), lower($1::text)) ORDER BY p.person_id LIMIT 1", certno
        )
    )


async def person_by_e_voucher(
    conn: asyncpg.Connection, state: Any, code: str, institution_code: str
) -> PersonInfo | None:
    """The person an e-voucher code stands for, without consuming it (as ``POST
    /v1/persons/lookup``); its refusals (invalid, used, expired, 429) raise."""
    person_id, _ = await resolve_e_voucher(
        conn, code, institution_code=institution_code, now=now(state), for_update=False
    )
    return await person(conn, person_id)


async def record_lookup(conn: asyncpg.Connection, caller: Caller, person_id: str, credential: str) -> None:
    """The audit row of a person lookup by an institution (api.md: every lookup is logged)."""
    await conn.execute(
        "INSERT INTO audit_log (actor_key_id, action, target, detail) VALUES ($1, 'person.lookup', $2, $3::jsonb)",
        caller.key_id,
        f"person:{person_id}",
        json.dumps({"via": "national 1101", "credential": credential, "institution": caller.institution_code}),
    )


async def accumulators(conn: asyncpg.Connection, person_id: str, year: int) -> dict[str, Decimal]:
    """The year's accumulators by name (settlement.md §10), as the settlement reads them."""
    rows = await conn.fetch("SELECT name, amount FROM accumulators WHERE person_id = $1 AND year = $2", person_id, year)
    return {r["name"]: r["amount"] for r in rows}


async def fund_paid(conn: asyncpg.Connection, person_id: str, year: int) -> dict[str, Decimal]:
    """What each layer paid for the person in an accumulation year, over live settlements:
    ``basic``, ``critical_illness``, ``medical_aid``, ``fallback``, ``secondary_aid``,
    ``personal_account``."""
    row = await conn.fetchrow(
        "SELECT COALESCE(sum(basic_fund), 0) AS basic, COALESCE(sum(critical_illness), 0) AS critical_illness,"
        " COALESCE(sum(medical_aid), 0) AS medical_aid, COALESCE(sum(fallback), 0) AS fallback,"
        " COALESCE(sum(secondary_aid), 0) AS secondary_aid, COALESCE(sum(personal_account), 0) AS personal_account"
        " FROM settlements WHERE person_id = $1 AND accumulation_year = $2 AND status = 'settled'",
        person_id,
        year,
    )
    return dict(row)


# --------------------------------------------------------------------------- reconciliation


RESULT_TEXT = {"0": "对平", "1": "中心多", "2": "医药机构多", "3": "数据不一致"}
FIGURES = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "count")


@dataclass(frozen=True, slots=True)
class TotalsRow:
    """One row to reconcile: the institution's own figures for a key."""

    insutype: str
    clr_type: str
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal
    count: int
    include_reversals: bool = True
    #: the persons' insured region (3201 ``setl_optins``); None: every region
    setl_optins: str | None = None


# Records (api.md, Reconciliation): a settlement on its settled_at (+08:00) date with its
# amounts, and its reversal on its reversed_at date with the amounts negated.
_TOTALS_SQL = """
WITH bounds AS (
  SELECT ($2::date)::timestamp AT TIME ZONE 'Asia/Shanghai' AS t0,
         ($3::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai' AS t1
), base AS (
  SELECT s.settlement_id, s.settled_at, s.reversed_at, s.status, s.total, s.fund_total, s.personal_account
  FROM settlements s JOIN persons p ON p.person_id = s.person_id
  WHERE s.institution_code = $1 AND s.insutype = $4
    AND (CASE s.med_type WHEN '21' THEN '21' WHEN '41' THEN '41' ELSE '11' END) = $5
    AND ($6::text IS NULL OR p.insured_region = $6)
), records AS (
  SELECT b.total, b.fund_total, b.personal_account FROM base b, bounds
  WHERE b.settled_at >= bounds.t0 AND b.settled_at < bounds.t1
  UNION ALL
  SELECT -b.total, -b.fund_total, -b.personal_account FROM base b, bounds
  WHERE $7 AND b.status = 'reversed' AND b.reversed_at >= bounds.t0 AND b.reversed_at < bounds.t1
)
SELECT COALESCE(sum(total), 0) AS medfee_sumamt, COALESCE(sum(fund_total), 0) AS fund_pay_sumamt,
       COALESCE(sum(personal_account), 0) AS acct_pay, count(*) AS count
FROM records
"""


def statement_result(center: dict[str, Any], institution: dict[str, Any]) -> str:
    """"0" all four equal; "1" 中心多: every centre figure ≥ and one greater; "2" 医药机构多:
    every centre figure ≤ and one smaller; "3" otherwise."""
    pairs = [(Decimal(center[f]), Decimal(institution[f])) for f in FIGURES]
    if all(c == i for c, i in pairs):
        return "0"
    if all(c >= i for c, i in pairs):
        return "1"
    if all(c <= i for c, i in pairs):
        return "2"
    return "3"


async def reconcile_totals(
    conn: asyncpg.Connection, institution_code: str, date_from: dt.date, date_to: dt.date, rows: list[TotalsRow]
) -> list[dict[str, Any]]:
    """对总账: per row, the centre's figures over the records of that institution, insutype,
    clr_type (and insured region) dated in the period, compared with the row's. Returns
    ``{insutype, clr_type, setl_optins, stmt_rslt, stmt_rslt_dscr, institution, center}``
    per row, in order; figures are Decimals and an int count."""
    answers = []
    for row in rows:
        found = await conn.fetchrow(
            _TOTALS_SQL, institution_code, date_from, date_to, row.insutype, row.clr_type, row.setl_optins,
            row.include_reversals,
        )  # fmt: skip
        center = {
            "medfee_sumamt": found["medfee_sumamt"],
            "fund_pay_sumamt": found["fund_pay_sumamt"],
            "acct_pay": found["acct_pay"],
            "count": int(found["count"]),
        }
        mine = {
            "medfee_sumamt": row.medfee_sumamt,
            "fund_pay_sumamt": row.fund_pay_sumamt,
            "acct_pay": row.acct_pay,
            "count": row.count,
        }
        result = statement_result(center, mine)
        answers.append({
            "insutype": row.insutype, "clr_type": row.clr_type, "setl_optins": row.setl_optins,
            "stmt_rslt": result, "stmt_rslt_dscr": RESULT_TEXT[result], "institution": mine, "center": center,
        })  # fmt: skip
    return answers

