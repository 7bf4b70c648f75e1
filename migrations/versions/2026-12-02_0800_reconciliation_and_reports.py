"""Reconciliation runs, the daily report rollup and ops dashboard sessions

- ``reconciliation_runs``: each successful 3201/3202 reconciliation's request and answer
  (the dashboard shows the last period's).
- ``report_daily``, ``report_monthly`` + ``report_rollup_state``: fund sums per day (and per
  month) × institution × med_type × insutype × aid category, folded from ``settlements`` up to a horizon; reports add the
  part after the horizon live (app.reports.rollup).
- ``settlement_reversals_reversed_at``: reversals found by time (fold, live part, 3201).
- ``ops_sessions``: server-side sessions of the /ops dashboard (only token digests).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNDS = ("basic_fund", "critical_illness", "medical_aid", "fallback", "secondary_aid", "personal_account", "cash")


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("balanced", sa.Boolean(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("actor_key_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('totals', 'details')", name=op.f("ck_reconciliation_runs_kind")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index("reconciliation_runs_created_at", "reconciliation_runs", ["created_at"])

    fund_columns = []
    for name in FUNDS:
        fund_columns.append(sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=False))
        fund_columns.append(sa.Column(f"{name}_n", sa.BigInteger(), nullable=False))
    op.create_table(
        "report_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("med_type", sa.CHAR(length=2), nullable=False),
        sa.Column("insutype", sa.CHAR(length=3), nullable=False),
        sa.Column("aid_category", sa.Text(), nullable=False),
        sa.Column("settlements", sa.BigInteger(), nullable=False),
        sa.Column("capped", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        *fund_columns,
        sa.PrimaryKeyConstraint(
            "day", "institution_code", "med_type", "insutype", "aid_category", name=op.f("pk_report_daily")
        ),
    )
    monthly_columns = []
    for name in FUNDS:
        monthly_columns.append(sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=False))
        monthly_columns.append(sa.Column(f"{name}_n", sa.BigInteger(), nullable=False))
    op.create_table(
        "report_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("med_type", sa.CHAR(length=2), nullable=False),
        sa.Column("insutype", sa.CHAR(length=3), nullable=False),
        sa.Column("aid_category", sa.Text(), nullable=False),
        sa.Column("settlements", sa.BigInteger(), nullable=False),
        sa.Column("capped", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        *monthly_columns,
        sa.PrimaryKeyConstraint(
            "month", "institution_code", "med_type", "insutype", "aid_category", name=op.f("pk_report_monthly")
        ),
    )
    op.create_table(
        "report_rollup_state",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("settled_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_report_rollup_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_rollup_state")),
    )
    # Nothing folded yet: every settlement is after the horizons, read live until a fold.
    op.execute(
        "INSERT INTO report_rollup_state (id, settled_before, reversed_before) VALUES (1, '-infinity', '-infinity')"
    )
    op.create_index("settlement_reversals_reversed_at", "settlement_reversals", ["reversed_at"])
    op.create_table(
        "ops_sessions",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_ops_sessions")),
    )
    op.create_index("ops_sessions_expires_at", "ops_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ops_sessions_expires_at", table_name="ops_sessions")
    op.drop_table("ops_sessions")
    op.drop_index("settlement_reversals_reversed_at", table_name="settlement_reversals")
    op.drop_table("report_rollup_state")
    op.drop_table("report_monthly")
    op.drop_table("report_daily")
    op.drop_index("reconciliation_runs_created_at", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
