"""Queries of the ops dashboard: sessions and the last reconciliation results."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def create_session(
    session: AsyncSession, token_hash: bytes, key_id: uuid.UUID, role: str, expires_at: dt.datetime
) -> None:
    await session.execute(text("DELETE FROM ops_sessions WHERE expires_at < now()"))
    await session.execute(
        text("INSERT INTO ops_sessions (token_hash, key_id, role, expires_at) VALUES (:h, :k, :r, :e)"),
        {"h": token_hash, "k": key_id, "r": role, "e": expires_at},
    )


async def find_session(session: AsyncSession, token_hash: bytes) -> Any:
    """The live session of this token whose key is still active, or None."""
    return (
        await session.execute(
            text(
                "SELECT o.key_id, o.role FROM ops_sessions o JOIN api_keys k ON k.key_id = o.key_id"
                " WHERE o.token_hash = :h AND o.expires_at > now() AND k.revoked_at IS NULL"
            ),
            {"h": token_hash},
        )
    ).first()


async def delete_session(session: AsyncSession, token_hash: bytes) -> None:
    await session.execute(text("DELETE FROM ops_sessions WHERE token_hash = :h"), {"h": token_hash})


async def last_reconciliations(session: AsyncSession) -> list[Any]:
    """The latest run of each institution and kind for the period of the latest run."""
    return list(
        (
            await session.execute(
                text(
                    """
WITH last AS (SELECT date_from, date_to FROM reconciliation_runs ORDER BY created_at DESC, run_id LIMIT 1)
SELECT DISTINCT ON (r.institution_code, r.kind) r.institution_code, r.kind, r.date_from, r.date_to, r.balanced,
       r.result, r.created_at
FROM reconciliation_runs r JOIN last l ON l.date_from = r.date_from AND l.date_to = r.date_to
ORDER BY r.institution_code, r.kind, r.created_at DESC
"""
                )
            )
        ).all()
    )
