"""settlement_items and settlement_funds: views over the stored response

The item and fund lines of a settlement were stored twice: in the response JSON the
caller was given (``settlements.response``) and, copied out of that same text, as rows
of two tables — 10 to 40 heap rows and index entries per settlement, two thirds of
its WAL records and a fifth of PostgreSQL's CPU per settlement (docs/performance.md).
They are now views with the same names and columns, read from the response itself:
what a report reads is, by construction, what the institution was given.

Downgrade recreates the tables and fills them from the views.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEMS_VIEW = """
CREATE VIEW settlement_items AS
SELECT s.settlement_id, x.line_no, x.code, x.name, x.qty, x.unit_price, x.amount, x.category,
       x.self_pay_full, x.over_limit, x.pre_self_pay, x.in_scope, x.reason
FROM settlements s,
     json_to_recordset(s.response -> 'items') AS x(
       line_no integer, code varchar(64), name text, qty numeric(14, 4), unit_price numeric(18, 6),
       amount numeric(14, 2), category char(1), self_pay_full numeric(14, 2), over_limit numeric(14, 2),
       pre_self_pay numeric(14, 2), in_scope numeric(14, 2), reason text)
"""

FUNDS_VIEW = """
CREATE VIEW settlement_funds AS
SELECT s.settlement_id, x.fund, x.fund_pay_type, x.amount, x.basis, x.explanation
FROM settlements s,
     json_to_recordset(s.response -> 'funds') AS x(
       fund text, fund_pay_type text, amount numeric(14, 2), basis numeric(14, 2), explanation text)
"""


def upgrade() -> None:
    op.drop_table("settlement_items")
    op.drop_table("settlement_funds")
    op.execute(ITEMS_VIEW)
    op.execute(FUNDS_VIEW)
    op.execute("COMMENT ON VIEW settlement_items IS 'Item lines of each settlement, read from settlements.response'")
    op.execute("COMMENT ON VIEW settlement_funds IS 'Fund lines of each settlement, read from settlements.response'")


def downgrade() -> None:
    op.execute("CREATE TEMP TABLE items_from_view ON COMMIT DROP AS SELECT * FROM settlement_items")
    op.execute("CREATE TEMP TABLE funds_from_view ON COMMIT DROP AS SELECT * FROM settlement_funds")
    op.execute("DROP VIEW settlement_items")
    op.execute("DROP VIEW settlement_funds")
    op.create_table(
        "settlement_funds",
        sa.Column("settlement_id", sa.UUID(), nullable=False),
        sa.Column("fund", sa.Text(), nullable=False),
        sa.Column("fund_pay_type", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("basis", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["settlement_id"], ["settlements.settlement_id"],
            name=op.f("fk_settlement_funds_settlement_id_settlements"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("settlement_id", "fund", name=op.f("pk_settlement_funds")),
    )
    op.create_table(
        "settlement_items",
        sa.Column("settlement_id", sa.UUID(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("qty", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("category", sa.CHAR(length=1), nullable=True),
        sa.Column("self_pay_full", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("over_limit", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("pre_self_pay", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("in_scope", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["settlement_id"], ["settlements.settlement_id"],
            name=op.f("fk_settlement_items_settlement_id_settlements"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("settlement_id", "line_no", name=op.f("pk_settlement_items")),
    )
    op.execute("INSERT INTO settlement_items SELECT * FROM items_from_view")
    op.execute("INSERT INTO settlement_funds SELECT * FROM funds_from_view")
