"""Reads of the settlement slip 结算单 over the settlement domain's own tables.

The settlement itself is read with `repository.get_settlement`; these two add what the
slip says about the person's year *as it stood right after this settlement*, computed
from the stored deltas (every accumulator and the account balance move only through
settlements and their reversals):

- `year_to_date`: Σ deltas of the person's settlements of that accumulation year settled
  up to and including this one (by ``settled_at``, then ``settlement_id``), leaving out
  those already reversed at this one's ``settled_at``. This settlement's own deltas count
  even when it has been reversed since: the slip shows the moment it was made.
- `account_moves_since`: what moved the account balance after this settlement, so that
  balance after it = balance now − Σ account deltas of settlements made after it and still
  live + Σ account deltas of settlements made up to it and reversed after it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import asyncpg

from app.engine.model import ACCOUNT_BALANCE

_YEAR_TO_DATE_SQL = """
SELECT d.name, sum(d.amount) AS amount
FROM settlements t JOIN settlement_deltas d ON d.settlement_id = t.settlement_id
WHERE t.person_id = $1 AND t.accumulation_year = $2
  AND (t.settled_at, t.settlement_id) <= ($3, $4)
  AND (t.settlement_id = $4 OR t.reversed_at IS NULL OR t.reversed_at > $3)
GROUP BY d.name
"""

_ACCOUNT_MOVES_SQL = f"""
SELECT
  COALESCE(sum(d.amount) FILTER (
    WHERE (t.settled_at, t.settlement_id) > ($2, $3) AND t.status = 'settled'), 0) AS later_live,
  COALESCE(sum(d.amount) FILTER (
    WHERE (t.settled_at, t.settlement_id) <= ($2, $3) AND t.reversed_at > $2), 0) AS reversed_since
FROM settlements t JOIN settlement_deltas d ON d.settlement_id = t.settlement_id
WHERE t.person_id = $1 AND d.name = '{ACCOUNT_BALANCE}'
"""


async def year_to_date(
    conn: asyncpg.Connection, person_id: str, year: int, settled_at: dt.datetime, settlement_id: uuid.UUID
) -> dict[str, Decimal]:
    """Accumulator name → amount right after the settlement (``account_balance``: the sum
    of the year's account deltas, i.e. minus what the account paid)."""
    rows = await conn.fetch(_YEAR_TO_DATE_SQL, person_id, year, settled_at, settlement_id)
    return {row["name"]: row["amount"] for row in rows}


async def account_moves_since(
    conn: asyncpg.Connection, person_id: str, settled_at: dt.datetime, settlement_id: uuid.UUID
) -> Decimal:
    """Σ account deltas that reached the balance after this settlement was made (see module)."""
    row = await conn.fetchrow(_ACCOUNT_MOVES_SQL, person_id, settled_at, settlement_id)
    return row["later_live"] - row["reversed_since"]

