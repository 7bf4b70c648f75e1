"""Tables of the reconciliation domain (migration 0008)."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, Date, Index, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from app.kit.tables import Timestamp, metadata

#: One row per successful reconciliation request: what was asked and what was answered
#: (totals: every row's answer; details: the summary). The dashboard shows the latest.
reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("run_id", UUID(as_uuid=True), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("institution_code", String(32), nullable=False),
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("balanced", Boolean, nullable=False),
    Column("result", JSONB, nullable=False),
    Column("actor_key_id", UUID(as_uuid=True), nullable=True),
    Timestamp("created_at"),
    CheckConstraint("kind IN ('totals', 'details')", name="kind"),
    Index("reconciliation_runs_created_at", "created_at"),
)
