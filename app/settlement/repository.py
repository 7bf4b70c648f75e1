"""Every query of the settlement path.

The hot path talks to asyncpg directly (through SQLAlchemy's pooled
connection): one statement reads and locks the person with everything the
engine needs, one statement writes the settlement, its lines, deltas and the
accumulators. Amounts go in and out as `Decimal` (NUMERIC), never as JSON numbers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

import asyncpg

from app.engine.model import (
    ACCOUNT_BALANCE,
    Accumulators,
    CrossRegionFiling,
    Enrollment,
    Person,
    Referral,
    Settlement,
    SpecialDiseaseRegistration,
    TOTAL_FIELDS,
)

PERSON_STATE_SQL = """
SELECT p.insured_region, p.retired, p.supplementary, p.aid_category, p.account_balance,
  ARRAY(SELECT ROW(e.insutype, e.valid_from, e.valid_to) FROM enrollments e
        WHERE e.person_id = p.person_id) AS enrollments,
  ARRAY(SELECT ROW(a.name, a.amount) FROM accumulators a
        WHERE a.person_id = p.person_id AND a.year = $2) AS accumulators,
  ARRAY(SELECT ROW(r.disease_code, r.valid_from, r.valid_to, r.all_sites, r.sites)
        FROM special_disease_registrations r
        WHERE r.person_id = p.person_id AND r.valid_from <= $3 AND r.valid_to >= $3) AS registrations,
  ARRAY(SELECT ROW(f.region, f.valid_from, COALESCE(f.valid_to, DATE '9999-12-31'))
        FROM cross_region_filings f
        WHERE f.person_id = p.person_id AND f.valid_from <= $3
          AND (f.valid_to IS NULL OR f.valid_to >= $3)) AS filings,
  ARRAY(SELECT ROW(x.person_id, x.to_institution, x.direction, x.valid_from,
                   COALESCE(x.valid_to, DATE '9999-12-31'),
                   x.consumed_by IS NOT NULL,
                   COALESCE((SELECT o.deductible FROM settlements o
                             WHERE o.settlement_id = x.origin_settlement_id AND o.status = 'settled'), 0))
        FROM referrals x WHERE x.referral_id = $4) AS referral
FROM persons p WHERE p.person_id = $1
"""


@dataclass(frozen=True, slots=True)
class PersonState:
    person: Person
    accumulators: Accumulators
    registrations: tuple[SpecialDiseaseRegistration, ...]
    filings: tuple[CrossRegionFiling, ...]
    referral: Referral | None


async def load_person_state(
    conn: asyncpg.Connection,
    person_id: str,
    year: int,
    day: dt.date,
    referral_id: uuid.UUID | None,
) -> PersonState | None:
    """The person, this year's accumulators and registrations, in one round trip.

    A settlement locks the person first (`claim_idempotency_key` or
    `lock_person`), in an earlier statement, so this read sees the latest state.
    """
    row = await conn.fetchrow(PERSON_STATE_SQL, person_id, year, day, referral_id)
    if row is None:
        return None
    person = Person(
        person_id=person_id,
        insured_region=row["insured_region"],
        enrollments=tuple(Enrollment(t, f, u) for t, f, u in row["enrollments"]),
        retired=row["retired"],
        supplementary=row["supplementary"],
        aid_category=row["aid_category"],
        account_balance=row["account_balance"],
    )
    referral = None
    if row["referral"]:
        pid, to_inst, direction, vfrom, vto, consumed, origin = row["referral"][0]
        referral = Referral(pid, to_inst, direction, vfrom, vto, origin, consumed)
    return PersonState(
        person=person,
        accumulators=Accumulators({name: amount for name, amount in row["accumulators"]}),
        registrations=tuple(
            SpecialDiseaseRegistration(code, vfrom, vto, None if all_sites else tuple(sites or ()))
            for code, vfrom, vto, all_sites, sites in row["registrations"]
        ),
        filings=tuple(CrossRegionFiling(region, vfrom, vto) for region, vfrom, vto in row["filings"]),
        referral=referral,
    )


# --------------------------------------------------------------------------- idempotency


async def claim_idempotency_key(
    conn: asyncpg.Connection,
    institution_code: str,
    key: str,
    fingerprint: bytes,
    settlement_id: uuid.UUID,
    person_id: str | None,
) -> bool:
    """Lock the person, then insert the key row: the first statement of a settlement.

    The person row is held FOR UPDATE until the transaction ends, so every
    settlement and reversal of this person queues here; the state read that
    follows is a new statement, with a snapshot that sees what the previous
    holder committed. (Locking inside the read itself would not do: after the
    wait, READ COMMITTED re-reads the locked row but not the statement's
    sub-selects, so the accumulators would be stale.)

    A concurrent request with the same key then blocks on the unique index
    until the first one commits (this returns False and the caller replays) or
    rolls back (this one proceeds). `lock_timeout` bounds both waits.
    """
    row = await conn.fetchrow(
        "INSERT INTO idempotency_keys (institution_code, key, fingerprint, settlement_id) "
        "SELECT $1, $2, $3, $4 FROM (SELECT count(*) FROM "
        "(SELECT 1 FROM persons WHERE person_id = $5 FOR UPDATE) AS person) AS locked "
        "ON CONFLICT DO NOTHING RETURNING 1",
        institution_code,
        key,
        fingerprint,
        settlement_id,
        person_id,
    )
    return row is not None


async def find_idempotent(conn: asyncpg.Connection, institution_code: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT k.fingerprint, s.response::text AS response FROM idempotency_keys k "
        "JOIN settlements s ON s.settlement_id = k.settlement_id "
        "WHERE k.institution_code = $1 AND k.key = $2",
        institution_code,
        key,
    )


# --------------------------------------------------------------------------- write

_TOTAL_COLUMNS = ", ".join(TOTAL_FIELDS)
_TOTAL_PARAMS = ", ".join(f"${i}" for i in range(13, 13 + len(TOTAL_FIELDS)))
_N = 13 + len(TOTAL_FIELDS)  # next free parameter number

INSERT_SETTLEMENT_SQL = f"""
WITH s AS (
  INSERT INTO settlements (settlement_id, institution_code, person_id, encounter_id, insutype, med_type,
    encounter_date, accumulation_year, policy_region, policy_insutype, policy_effective_from, cross_region,
    status, settled_at, {_TOTAL_COLUMNS}, referral_id, e_voucher_hash, response)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'settled', ${_N}, {_TOTAL_PARAMS},
    ${_N + 1}, ${_N + 2}, ${_N + 3}::json)
), i AS (
  -- Item and fund lines come from the response text itself: what is stored is, by
  -- construction, exactly what the caller was given (and the client encodes no arrays).
  INSERT INTO settlement_items (settlement_id, line_no, code, name, qty, unit_price, amount, category,
    self_pay_full, over_limit, pre_self_pay, in_scope, reason)
  SELECT $1, x.line_no, x.code, x.name, x.qty, x.unit_price, x.amount, x.category,
    x.self_pay_full, x.over_limit, x.pre_self_pay, x.in_scope, x.reason
  FROM json_to_recordset(${_N + 3}::json -> 'items') AS x(line_no int, code text, name text, qty numeric,
    unit_price numeric, amount numeric, category text, self_pay_full numeric, over_limit numeric,
    pre_self_pay numeric, in_scope numeric, reason text)
), f AS (
  INSERT INTO settlement_funds (settlement_id, fund, fund_pay_type, amount, basis, explanation)
  SELECT $1, x.fund, x.fund_pay_type, x.amount, x.basis, x.explanation
  FROM json_to_recordset(${_N + 3}::json -> 'funds') AS x(fund text, fund_pay_type text, amount numeric,
    basis numeric, explanation text)
), d AS (
  INSERT INTO settlement_deltas (settlement_id, name, amount)
  SELECT $1, * FROM unnest(${_N + 4}::text[], ${_N + 5}::text[]::numeric[])
), acc AS (
  INSERT INTO accumulators AS a (person_id, year, name, amount)
  SELECT $3, $8, n, v FROM unnest(${_N + 4}::text[], ${_N + 5}::text[]::numeric[]) AS t(n, v)
  WHERE n <> '{ACCOUNT_BALANCE}'
  ON CONFLICT (person_id, year, name) DO UPDATE SET amount = a.amount + EXCLUDED.amount
), bal AS (
  -- The cast matters: PostgreSQL types a parameter where it first meets it, and it
  -- analyses WHERE before SET, so a bare "$n <> 0" would make the delta an integer.
  UPDATE persons SET account_balance = account_balance + ${_N + 6}::numeric
  WHERE person_id = $3 AND ${_N + 6}::numeric <> 0
), ev AS (
  UPDATE e_vouchers SET consumed_by = $1, consumed_at = ${_N}
  WHERE code_hash = ${_N + 2} AND consumed_by IS NULL
  RETURNING 1
), ref AS (
  UPDATE referrals SET consumed_by = $1 WHERE referral_id = ${_N + 1} AND consumed_by IS NULL
), pol AS (
  UPDATE policies SET in_use = true
  WHERE ${_N + 7} AND region = $9 AND insutype = $10 AND effective_from = $11 AND revision = ${_N + 8}
  RETURNING 1
)
SELECT (SELECT count(*) FROM pol) AS policy_marked, (SELECT count(*) FROM ev) AS voucher_consumed
"""


@dataclass(frozen=True, slots=True)
class SettlementRow:
    settlement_id: uuid.UUID
    institution_code: str
    person_id: str
    encounter_id: str
    encounter_date: dt.date
    settled_at: dt.datetime
    policy_region: str
    policy_insutype: str
    policy_effective_from: dt.date
    policy_revision: int
    mark_policy: bool
    referral_id: uuid.UUID | None
    e_voucher_hash: bytes | None
    response_json: str


async def insert_settlement(conn: asyncpg.Connection, row: SettlementRow, result: Settlement) -> asyncpg.Record:
    """One statement. Item and fund lines are read by the server from the response text
    (`json_to_recordset`); delta amounts travel as text and are cast to NUMERIC there —
    encoding hundreds of Decimals client-side cost more CPU than the whole statement."""
    return await conn.fetchrow(INSERT_SETTLEMENT_SQL, *insert_arguments(row, result))


def insert_arguments(row: SettlementRow, result: Settlement) -> list[Any]:
    delta_names = list(result.deltas)
    delta_amounts = [str(result.deltas[n]) for n in delta_names]
    account_delta = result.deltas.get(ACCOUNT_BALANCE, Decimal("0"))
    totals = result.totals
    return [
        row.settlement_id,
        row.institution_code,
        row.person_id,
        row.encounter_id,
        result.insutype,
        result.med_type,
        row.encounter_date,
        result.accumulation_year,
        row.policy_region,
        row.policy_insutype,
        row.policy_effective_from,
        result.cross_region,
        *(getattr(totals, name) for name in TOTAL_FIELDS),
        row.settled_at,
        row.referral_id,
        row.e_voucher_hash,
        row.response_json,
        delta_names,
        delta_amounts,
        account_delta,
        row.mark_policy,
        row.policy_revision,
    ]


# --------------------------------------------------------------------------- read and reverse


async def get_settlement_for_update(conn: asyncpg.Connection, settlement_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT settlement_id, institution_code, person_id, accumulation_year, status, reversed_at, "
        "response::text AS response FROM settlements WHERE settlement_id = $1 FOR UPDATE",
        settlement_id,
    )


async def get_settlement(conn: asyncpg.Connection, settlement_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT settlement_id, institution_code, status, reversed_at, response::text AS response "
        "FROM settlements WHERE settlement_id = $1",
        settlement_id,
    )


async def lock_person(conn: asyncpg.Connection, person_id: str) -> None:
    await conn.execute("SELECT 1 FROM persons WHERE person_id = $1 FOR UPDATE", person_id)


REVERSE_SQL = f"""
WITH d AS (
  SELECT name, amount FROM settlement_deltas WHERE settlement_id = $1
), acc AS (
  UPDATE accumulators a SET amount = a.amount - d.amount FROM d
  WHERE a.person_id = $2 AND a.year = $3 AND a.name = d.name AND d.name <> '{ACCOUNT_BALANCE}'
), bal AS (
  UPDATE persons SET account_balance = account_balance - d.amount FROM d
  WHERE person_id = $2 AND d.name = '{ACCOUNT_BALANCE}'
), ref AS (
  UPDATE referrals SET consumed_by = NULL WHERE consumed_by = $1
), rev AS (
  INSERT INTO settlement_reversals (settlement_id, reversed_at, reversed_by) VALUES ($1, $4, $5)
)
UPDATE settlements SET status = 'reversed', reversed_at = $4 WHERE settlement_id = $1
"""


async def reverse_settlement(
    conn: asyncpg.Connection,
    settlement_id: uuid.UUID,
    person_id: str,
    year: int,
    reversed_at: dt.datetime,
    reversed_by: uuid.UUID | None,
) -> None:
    await conn.execute(REVERSE_SQL, settlement_id, person_id, year, reversed_at, reversed_by)


async def list_settlements(
    conn: asyncpg.Connection,
    *,
    institution_code: str | None,
    person_id: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[asyncpg.Record]:
    clauses = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if institution_code is not None:
        clauses.append(f"institution_code = {arg(institution_code)}")
    if person_id is not None:
        clauses.append(f"person_id = {arg(person_id)}")
    if date_from is not None:
        clauses.append(f"encounter_date >= {arg(date_from)}")
    if date_to is not None:
        clauses.append(f"encounter_date <= {arg(date_to)}")
    if after is not None:
        clauses.append(f"(settled_at, settlement_id) > ({arg(after[0])}, {arg(after[1])})")
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return await conn.fetch(
        "SELECT settlement_id, status, institution_code, person_id, encounter_id, med_type, encounter_date, "
        "settled_at, reversed_at, total, fund_total, cash FROM settlements "
        f"{where} ORDER BY settled_at, settlement_id LIMIT {arg(limit)}",
        *args,
    )
