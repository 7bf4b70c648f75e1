"""idempotency_keys_created_at as a BRIN index

Every settlement inserts one Idempotency-Key row, and with it an entry in the btree on
``created_at``, which only the retention purge reads (``DELETE … WHERE created_at < …``,
docs/operations.md). Keys arrive in ``created_at`` order, the case BRIN is made for: the
purge still finds its range through the index, and a settlement no longer writes a btree
entry for it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("idempotency_keys_created_at", table_name="idempotency_keys")
    op.create_index("idempotency_keys_created_at", "idempotency_keys", ["created_at"], postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("idempotency_keys_created_at", table_name="idempotency_keys")
    op.create_index("idempotency_keys_created_at", "idempotency_keys", ["created_at"])
