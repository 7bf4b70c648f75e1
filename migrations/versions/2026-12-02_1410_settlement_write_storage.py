"""settlements.response stored uncompressed (STORAGE EXTERNAL); e_vouchers with room for HOT updates

The stored response (the settlement's body, kept for byte-identical replays) is 1.5 kB
for a 3-item purchase, 3 kB for a 10-item visit and 11 kB for a 40-item stay: over the
2 kB threshold PostgreSQL compressed it with pglz on every settlement write. Measured
on 12,984 stored settlements of the benchmark's mix (INSERT … SELECT into copies of the
table, PostgreSQL 15): 40 µs a row compressed, 16 µs uncompressed out of line — ≈ 24 µs
of the database's CPU a settlement, for ≈ 50 % more disk (5.1 → 7.6 kB a settlement
with its engine input and indexes). lz4 would keep most of both, but the embedded
PostgreSQL is built without it. docs/performance.md.

e_vouchers gets fillfactor 70: consuming a code sets two NULL columns, so the row grows;
on a full page (codes are inserted one after another and fill their pages) the update
could not stay on its page (no HOT update) and wrote new entries in both indexes. In the
benchmark a third of the consumptions were such updates.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE settlements ALTER COLUMN response SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE e_vouchers SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("ALTER TABLE e_vouchers RESET (fillfactor)")
    op.execute("ALTER TABLE settlements ALTER COLUMN response SET STORAGE EXTENDED")
