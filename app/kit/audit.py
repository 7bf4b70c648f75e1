"""The audit log: every admin write appends one row (who, what, which target)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.tables import audit_log


async def record(
    session: AsyncSession,
    actor_key_id: UUID | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit row in the request's transaction.

    ``detail`` must never hold personal data (names, certno, balances, amounts of a
    person): record identifiers and counts only.
    """
    await session.execute(
        insert(audit_log).values(actor_key_id=actor_key_id, action=action, target=target, detail=detail)
    )
