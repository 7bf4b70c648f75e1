"""persons.state_version and medsettle_abort(): the optimistic settlement write

A settlement reads the person's state without a lock and writes in one guarded
statement: ``UPDATE persons … WHERE state_version = <the version it read>``.
Every writer of a person's accumulators or account balance bumps the version, so a
write computed from a stale read changes nothing (docs/architecture.md, "The
settlement write"). ``medsettle_abort(reason)`` lets that one statement undo itself
when a later part of it finds a conflict (an Idempotency-Key taken meanwhile).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: SQLSTATE of medsettle_abort(): class "MS" is ours, never PostgreSQL's.
ABORT_SQLSTATE = "MS409"


def upgrade() -> None:
    op.add_column("persons", sa.Column("state_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    op.execute(
        f"""
        CREATE FUNCTION medsettle_abort(reason text) RETURNS integer
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
          RAISE EXCEPTION USING ERRCODE = '{ABORT_SQLSTATE}', MESSAGE = reason;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION medsettle_abort(text)")
    op.drop_column("persons", "state_version")
