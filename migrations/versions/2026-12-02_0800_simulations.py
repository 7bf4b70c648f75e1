"""Policy simulations: settlements.engine_input, simulations, simulation_parts

``settlements.engine_input`` holds the engine's input of each settlement (bytes of
JSON, app/engine/snapshot.py) except the accumulators: a simulation replays the
settlements from it (docs/simulations.md). Settlements written before this
migration have none and are reported as not reproducible.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("settlements", sa.Column("engine_input", sa.LargeBinary(), nullable=True))
    op.create_table(
        "simulations",
        sa.Column("simulation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("region", postgresql.CHAR(6), nullable=False),
        sa.Column("insutype", postgresql.CHAR(3), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("draft", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("replayed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSON(), nullable=True),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_simulations_status"),
        sa.PrimaryKeyConstraint("simulation_id", name="pk_simulations"),
    )
    op.create_table(
        "simulation_parts",
        sa.Column("simulation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("part", sa.SmallInteger(), nullable=False),
        sa.Column("replayed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("partial", postgresql.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["simulation_id"],
            ["simulations.simulation_id"],
            name="fk_simulation_parts_simulation_id_simulations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("simulation_id", "part", name="pk_simulation_parts"),
    )


def downgrade() -> None:
    op.drop_table("simulation_parts")
    op.drop_table("simulations")
    op.drop_column("settlements", "engine_input")
