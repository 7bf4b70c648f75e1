"""Every query of the settlement path.

The hot path talks to asyncpg directly, on connections of SQLAlchemy's pool
(app.kit.rawdb). A settlement is normally two statements: `load_person_state`
reads the person with everything the engine needs, and `OPTIMISTIC_WRITE_SQL`
writes the settlement, its deltas and the accumulators in one statement guarded
by the person's state version. When that declines, the locked path claims the key
and locks the person (`claim_idempotency_key`), reads, and writes with
`LOCKED_WRITE_SQL`, in one transaction. Amounts go in and out as `Decimal`
(NUMERIC) or as text cast to NUMERIC by the server, never as JSON numbers.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

import asyncpg
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.engine.model import ACCOUNT_BALANCE, TOTAL_FIELDS, Settlement
from app.persons.state import (
    BY_PERSON,
    BY_E_VOUCHER,
    E_VOUCHER_COLUMNS,
    lock_person_sql,
    PersonState,
    next_state_version,
    person_state_from_row,
    select_person_state,
)
from app.settlement.tables import settlements

LOCK_PERSON_SQL = lock_person_sql("$1")

#: The settlement already stored under the request's (institution, Idempotency-Key):
#: the optimistic path answers a retry from it without writing anything.
_STORED_COLUMN = """(SELECT ROW(k.fingerprint, k.settlement_id, convert_to(s.response::text, 'UTF8')) FROM idempotency_keys k
   JOIN settlements s ON s.settlement_id = k.settlement_id
   WHERE k.institution_code = $5 AND k.key = $6) AS stored"""

#: The optimistic read: the person's settlement state (owned by persons, see
#: `app.persons.state`) and the stored key, by person id or by e-voucher digest.
READ_BY_PERSON_SQL = select_person_state(BY_PERSON, _STORED_COLUMN)
#: By code, the e-voucher failure limiter's admission (app.evouchers.ratelimit) is decided in
#: the same statement, only for a code that exists. A usable code at an institution with no
#: live failure and no attempt in flight (what ``e_voucher_admit`` would not forget) is
#: admitted on that ``EXISTS`` alone: nothing written, no function called. Otherwise
#: ``settlement_e_voucher_gate`` (migration 0014, over 0011's ``e_voucher_gate``) decides:
#: under the limit it admits, at it it answers how long to wait, and for a consumed or
#: expired code — a failure, unless the request replays the settlement that consumed it,
#: which the function tells by the Idempotency-Key — it reserves the attempt, committed at
#: once since the read is autocommitted, as the limiter's own connection would commit it.
#: The key test sits in the function, not here, where it would be two sub-plans set up on
#: every read and run on almost none (docs/performance.md, 2026-12-03).
_FAILING = "(v.consumed_by IS NOT NULL OR v.expires_at <= $8)"
_LIVE_ATTEMPTS = (
    "EXISTS (SELECT 1 FROM e_voucher_attempts a WHERE a.institution_code = $7"
    " AND (a.failed_at > $8::timestamptz - make_interval(secs => $10::integer)"
    " OR (a.failed_at IS NULL AND a.started_at > $8::timestamptz - make_interval(secs => $11::integer))))"
)
READ_BY_E_VOUCHER_SQL = select_person_state(
    BY_E_VOUCHER,
    f"{E_VOUCHER_COLUMNS},\n  CASE WHEN {_FAILING} OR {_LIVE_ATTEMPTS}"
    f" THEN settlement_e_voucher_gate($7, $6, $8, $9, $10, $11, {_FAILING}) END AS gate,\n  {_STORED_COLUMN}",
)


@dataclass(frozen=True, slots=True)
class OptimisticRead:
    state: PersonState
    #: (fingerprint, settlement id, response) stored under the request's Idempotency-Key, if any.
    stored: tuple[bytes, uuid.UUID, str] | None
    #: The e-voucher's expiry and whether it was used, when the read was by code.
    voucher_expires_at: dt.datetime | None = None
    voucher_used: bool = False
    #: By code: whether the limiter admitted the attempt, the attempt it reserved (only
    #: for a consumed or expired code), or else the seconds to wait.
    admitted: bool = True
    attempt_id: int | None = None
    retry_after: int | None = None


async def read_for_settlement(
    conn: asyncpg.Connection,
    *,
    person_id: str | None,
    voucher_hash: bytes | None,
    year: int,
    day: dt.date,
    referral_id: uuid.UUID | None,
    institution_code: str,
    idempotency_key: str,
    admission: tuple[dt.datetime, int, int, int] | None = None,
) -> OptimisticRead | None:
    """One round trip, no lock: the person (by id, or by the e-voucher code's digest),
    their state for the engine, and what is stored under the Idempotency-Key. None:
    no such person (or no such code)."""
    if voucher_hash is None:
        row = await conn.fetchrow(
            READ_BY_PERSON_SQL, person_id, year, day, referral_id, institution_code, idempotency_key
        )
    else:
        assert admission is not None  # (now, limit, window seconds, stale seconds)
        row = await conn.fetchrow(
            READ_BY_E_VOUCHER_SQL, voucher_hash, year, day, referral_id, institution_code, idempotency_key,
            institution_code, *admission,
        )
    if row is None:
        return None
    stored = None
    if row["stored"] is not None:
        fingerprint, settlement_id, response = row["stored"]
        stored = (bytes(fingerprint), settlement_id, response)
    if voucher_hash is None:
        return OptimisticRead(person_state_from_row(row), stored)
    gate = row["gate"]  # (admitted, attempt_id, retry_after) when the gate function ran
    admitted, attempt_id, retry_after = (True, None, None) if gate is None else gate
    return OptimisticRead(
        person_state_from_row(row), stored, row["voucher_expires_at"], row["voucher_used"],
        admitted, attempt_id, retry_after,
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
        f"({lock_person_sql('$5')}) AS person) AS locked "
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
        "SELECT k.fingerprint, k.settlement_id, convert_to(s.response::text, 'UTF8') AS response FROM idempotency_keys k "
        "JOIN settlements s ON s.settlement_id = k.settlement_id "
        "WHERE k.institution_code = $1 AND k.key = $2",
        institution_code,
        key,
    )


# --------------------------------------------------------------------------- write


def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` placeholders → ``$1, $2 …`` in order of first use; also the names in that order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return re.sub(r"(?<![:\w]):([a-z_][a-z0-9_]*)", number, sql), tuple(names)


_SETTLEMENT_COLUMNS = (
    "settlement_id, institution_code, person_id, encounter_id, insutype, med_type, encounter_date, "
    "accumulation_year, policy_region, policy_insutype, policy_effective_from, cross_region, status, settled_at, "
    + ", ".join(TOTAL_FIELDS)
    + ", referral_id, e_voucher_hash, response, diagnoses, engine_input"
)
_SETTLEMENT_VALUES = (
    ":settlement_id, :institution_code, :person_id, :encounter_id, :insutype, :med_type, :encounter_date, "
    ":accumulation_year, :policy_region, :policy_insutype, :policy_effective_from, :cross_region, 'settled', "
    ":settled_at, " + ", ".join(f":{name}::text::numeric" for name in TOTAL_FIELDS) + ", :referral_id, :e_voucher_hash, convert_from(:response, 'UTF8')::json, :diagnoses::text[], :engine_input"
)


def _settlement_ctes(gate: str) -> str:
    """The settlement row (its item and fund lines are in its response; the views
    settlement_items and settlement_funds read them from there), its deltas and the
    accumulator upserts. ``gate`` is a relation every row is joined with: none for the
    locked write, ``claim`` for the optimistic one, so that nothing is written unless its
    guard and key claim succeeded."""
    from_gate = f"FROM {gate}" if gate else ""
    and_gate = f"{gate}, " if gate else ""
    return f"""s AS (
  INSERT INTO settlements ({_SETTLEMENT_COLUMNS})
  SELECT {_SETTLEMENT_VALUES} {from_gate}
), d AS (
  INSERT INTO settlement_deltas (settlement_id, name, amount)
  SELECT :settlement_id, t.n, t.v
  FROM {and_gate}unnest(:delta_names::text[], :delta_amounts::text[]::numeric[]) AS t(n, v)
), acc AS (
  INSERT INTO accumulators AS a (person_id, year, name, amount)
  SELECT :person_id, :accumulation_year, t.n, t.v
  FROM {and_gate}unnest(:delta_names::text[], :delta_amounts::text[]::numeric[]) AS t(n, v)
  WHERE t.n <> '{ACCOUNT_BALANCE}'
  ON CONFLICT (person_id, year, name) DO UPDATE SET amount = a.amount + EXCLUDED.amount
)"""


#: The write of a settlement whose person is locked (``claim_idempotency_key`` or
#: ``lock_person`` earlier in the same transaction).
LOCKED_WRITE_SQL, LOCKED_WRITE_PARAMS = numbered(f"""
WITH {_settlement_ctes("")}, bal AS (
  -- The cast matters: PostgreSQL types a parameter where it first meets it.
  UPDATE persons SET account_balance = account_balance + :account_delta::numeric,
    state_version = {next_state_version()}
  WHERE person_id = :person_id
), ev AS (
  UPDATE e_vouchers SET consumed_by = :settlement_id, consumed_at = :settled_at
  WHERE code_hash = :e_voucher_hash AND consumed_by IS NULL
  RETURNING 1
), ref AS (
  UPDATE referrals SET consumed_by = :settlement_id WHERE referral_id = :referral_id AND consumed_by IS NULL
), pol AS (
  UPDATE policies SET in_use = true
  WHERE :mark_policy AND region = :policy_region AND insutype = :policy_insutype
    AND effective_from = :policy_effective_from AND revision = :policy_revision
  RETURNING 1
)
SELECT (SELECT count(*) FROM pol) AS policy_marked, (SELECT count(*) FROM ev) AS voucher_consumed
""")

#: SQLSTATE raised by ``medsettle_abort()`` (migration 0002).
ABORT_SQLSTATE = "MS409"

#: The optimistic write: one statement, its own transaction. ``guard`` bumps the person's
#: state version only if it is still the one the engine's input was read at (and waits
#: for, then re-checks against, any settlement of the person in flight); ``claim`` takes
#: the Idempotency-Key; every other row is joined with ``claim``. A key taken by a
#: concurrent request after the guard passed aborts the statement (``medsettle_abort``),
#: so the balance change in ``guard`` is undone with everything else.
OPTIMISTIC_WRITE_SQL, OPTIMISTIC_WRITE_PARAMS = numbered(f"""
WITH guard AS (
  UPDATE persons SET account_balance = account_balance + :account_delta::numeric,
    state_version = {next_state_version()}
  WHERE person_id = :person_id AND state_version = :state_version
  RETURNING 1
), claim AS (
  INSERT INTO idempotency_keys (institution_code, key, fingerprint, settlement_id)
  SELECT :institution_code, :idempotency_key, :fingerprint, :settlement_id FROM guard
  ON CONFLICT DO NOTHING
  RETURNING 1
), taken AS (
  SELECT medsettle_abort('idempotency_key_taken') FROM guard WHERE NOT EXISTS (SELECT 1 FROM claim)
), {_settlement_ctes("claim")}, ref AS (
  UPDATE referrals SET consumed_by = :settlement_id
  WHERE referral_id = :referral_id AND consumed_by IS NULL AND EXISTS (SELECT 1 FROM claim)
), ev AS (
  -- A code consumed by a concurrent settlement after our read: this row is then not
  -- updated, and the whole statement is undone (below) and decided again under lock.
  UPDATE e_vouchers SET consumed_by = :settlement_id, consumed_at = :settled_at
  WHERE code_hash = :e_voucher_hash AND consumed_by IS NULL AND EXISTS (SELECT 1 FROM claim)
  RETURNING 1
), spent AS (
  SELECT medsettle_abort('e_voucher_taken') FROM claim
  WHERE :e_voucher_hash::bytea IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ev)
), pol AS (
  -- The first settlement under a policy version (as this process knows it) marks it in
  -- use, if it is still the revision the engine ran with; a replaced one undoes it all.
  UPDATE policies SET in_use = true
  WHERE :mark_policy AND region = :policy_region AND insutype = :policy_insutype
    AND effective_from = :policy_effective_from AND revision = :policy_revision
    AND EXISTS (SELECT 1 FROM claim)
  RETURNING 1
), replaced AS (
  SELECT medsettle_abort('policy_changed') FROM claim WHERE :mark_policy AND NOT EXISTS (SELECT 1 FROM pol)
)
SELECT (SELECT count(*) FROM guard) AS fresh, (SELECT count(*) FROM taken) AS taken,
  (SELECT count(*) FROM spent) AS spent, (SELECT count(*) FROM replaced) AS replaced
""")


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
    response_json: bytes  # UTF-8 JSON, as sent (app.settlement.rendering)
    diagnoses: list[str]  # the encounter's ICD-10 codes as sent (active screening reads them)
    #: The engine's input but the accumulators (app/engine/snapshot.py), JSON bytes.
    engine_input: bytes | None = None


class StaleState(Exception):
    """The optimistic write wrote nothing: the person changed since the read
    (``state_changed``), the Idempotency-Key was taken meanwhile (``idempotency_key_taken``)
    the e-voucher code was consumed meanwhile (``e_voucher_taken``) or the policy version
    it marks in use was replaced (``policy_changed``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def write_values(row: SettlementRow, result: Settlement) -> dict[str, Any]:
    """Every named parameter of both writes. Delta amounts travel as text and are cast to
    NUMERIC by the server: encoding hundreds of Decimals client-side cost more CPU than
    the whole statement."""
    totals = result.totals
    # Totals as text too (``::text::numeric`` in the statement), for the same reason.
    values: dict[str, Any] = {name: str(getattr(totals, name)) for name in TOTAL_FIELDS}
    values.update(
        settlement_id=row.settlement_id,
        institution_code=row.institution_code,
        person_id=row.person_id,
        encounter_id=row.encounter_id,
        insutype=result.insutype,
        med_type=result.med_type,
        encounter_date=row.encounter_date,
        accumulation_year=result.accumulation_year,
        policy_region=row.policy_region,
        policy_insutype=row.policy_insutype,
        policy_effective_from=row.policy_effective_from,
        policy_revision=row.policy_revision,
        mark_policy=row.mark_policy,
        cross_region=result.cross_region,
        settled_at=row.settled_at,
        referral_id=row.referral_id,
        e_voucher_hash=row.e_voucher_hash,
        response=row.response_json,
        diagnoses=row.diagnoses,
        engine_input=row.engine_input,
        delta_names=list(result.deltas),
        delta_amounts=[str(amount) for amount in result.deltas.values()],
        account_delta=result.deltas.get(ACCOUNT_BALANCE, Decimal("0")),
    )
    return values


async def insert_settlement(conn: asyncpg.Connection, row: SettlementRow, result: Settlement) -> asyncpg.Record:
    """The locked write: one statement inside the caller's transaction."""
    values = write_values(row, result)
    return await conn.fetchrow(LOCKED_WRITE_SQL, *[values[name] for name in LOCKED_WRITE_PARAMS])


async def insert_settlement_optimistic(
    conn: asyncpg.Connection,
    row: SettlementRow,
    result: Settlement,
    *,
    idempotency_key: str,
    fingerprint: bytes,
    state_version: int,
) -> None:
    """The optimistic write, outside any transaction: all of it or nothing. Raises
    `StaleState` when nothing was written because the read is no longer current."""
    values = write_values(row, result)
    values.update(
        idempotency_key=idempotency_key, fingerprint=fingerprint, state_version=state_version
    )
    try:
        marks = await conn.fetchrow(OPTIMISTIC_WRITE_SQL, *[values[name] for name in OPTIMISTIC_WRITE_PARAMS])
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == ABORT_SQLSTATE:
            # medsettle_abort's message is the reason it was called with.
            message = str(exc)
            reason = next(
                (r for r in ("e_voucher_taken", "policy_changed") if r in message), "idempotency_key_taken"
            )
            raise StaleState(reason) from None
        raise
    if not marks["fresh"]:
        raise StaleState("state_changed")


# --------------------------------------------------------------------------- read and reverse


async def get_settlement_for_update(conn: asyncpg.Connection, settlement_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT settlement_id, institution_code, person_id, accumulation_year, status, reversed_at, "
        "convert_to(response::text, 'UTF8') AS response FROM settlements WHERE settlement_id = $1 FOR UPDATE",
        settlement_id,
    )


async def get_settlement(conn: asyncpg.Connection, settlement_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT settlement_id, institution_code, status, reversed_at, convert_to(response::text, 'UTF8') AS response "
        "FROM settlements WHERE settlement_id = $1",
        settlement_id,
    )


async def lock_person(conn: asyncpg.Connection, person_id: str) -> None:
    await conn.execute(LOCK_PERSON_SQL, person_id)


REVERSE_SQL = f"""
WITH d AS (
  SELECT name, amount FROM settlement_deltas WHERE settlement_id = $1
), acc AS (
  UPDATE accumulators a SET amount = a.amount - d.amount FROM d
  WHERE a.person_id = $2 AND a.year = $3 AND a.name = d.name AND d.name <> '{ACCOUNT_BALANCE}'
), bal AS (
  -- Unconditional: the state version moves with every reversal (see OPTIMISTIC_WRITE_SQL).
  UPDATE persons SET state_version = {next_state_version()},
    account_balance = account_balance - COALESCE((SELECT amount FROM d WHERE name = '{ACCOUNT_BALANCE}'), 0)
  WHERE person_id = $2
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


async def settlement_summary(session: AsyncSession, settlement_id: uuid.UUID) -> Row[Any] | None:
    stmt = select(settlements.c.institution_code, settlements.c.person_id, settlements.c.status).where(
        settlements.c.settlement_id == settlement_id
    )
    return (await session.execute(stmt)).first()


async def person_settlements(session: AsyncSession, person_id: str, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` are settlements of this person."""
    if not ids:
        return set()
    stmt = select(settlements.c.settlement_id).where(
        settlements.c.person_id == person_id, settlements.c.settlement_id.in_(list(ids))
    )
    return set((await session.execute(stmt)).scalars().all())
