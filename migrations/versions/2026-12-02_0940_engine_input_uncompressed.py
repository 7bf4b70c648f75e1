"""settlements.engine_input stored uncompressed (STORAGE EXTERNAL)

The stored engine input (migration 0009) is written by every settlement and read only by
policy simulations. Compressing it (pglz, PostgreSQL's default for values over 2 kB) cost
the settlement write CPU in the database on the hot path; out of line and uncompressed
it costs disk instead (docs/performance.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE settlements ALTER COLUMN engine_input SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE settlements ALTER COLUMN engine_input SET STORAGE EXTENDED")
