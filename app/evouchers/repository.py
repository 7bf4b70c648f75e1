"""Every query of e-voucher issuance (settlement-time lookups are in `service.resolve_e_voucher`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.evouchers.tables import e_vouchers


async def insert_voucher(
    session: AsyncSession, code_hash: bytes, person_id: str, issued_at: dt.datetime, expires_at: dt.datetime
) -> None:
    await session.execute(
        insert(e_vouchers).values(
            code_hash=code_hash, person_id=person_id, issued_at=issued_at, expires_at=expires_at
        )
    )
