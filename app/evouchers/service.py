"""E-voucher use at settlement time."""

from __future__ import annotations

import datetime as dt

import asyncpg

from app.evouchers.codes import hash_code, well_formed
from app.evouchers.exceptions import EVoucherExpired, EVoucherInvalid, EVoucherUsed


async def resolve_e_voucher(
    conn: asyncpg.Connection, code: str, *, institution_code: str, now: dt.datetime, for_update: bool
) -> tuple[str, bytes]:
    """The person a code stands for, and the code's hash.

    With `for_update` the voucher row stays locked until the settlement commits,
    so two pharmacies racing one code queue here and the second sees it used.
    """
    if not well_formed(code):
        raise EVoucherInvalid()
    code_hash = hash_code(code)
    row = await conn.fetchrow(
        "SELECT person_id, expires_at, consumed_by FROM e_vouchers WHERE code_hash = $1"
        + (" FOR UPDATE" if for_update else ""),
        code_hash,
    )
    if row is None:
        raise EVoucherInvalid()
    if row["consumed_by"] is not None:
        raise EVoucherUsed()
    if row["expires_at"] <= now:
        raise EVoucherExpired()
    return row["person_id"], code_hash
