"""Tables of the simulations domain (migration 0009)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import CHAR, JSON, JSONB, UUID

from app.kit.tables import Timestamp, metadata

simulations = Table(
    "simulations",
    metadata,
    Column("simulation_id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=True),
    Column("region", CHAR(6), nullable=False),
    Column("insutype", CHAR(3), nullable=False),
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("draft", JSONB, nullable=False),  # the validated document; never a policy in force
    Column("status", Text, nullable=False),
    Column("replayed", BigInteger, nullable=False, server_default="0"),
    Column("total", BigInteger, nullable=False, server_default="0"),
    Column("error", Text, nullable=True),
    Column("result", JSON, nullable=True),  # json keeps the result's key order
    Column("created_by", UUID(as_uuid=True), nullable=True),
    Timestamp("created_at"),
    Timestamp("started_at", nullable=True, default_now=False),
    Timestamp("finished_at", nullable=True, default_now=False),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
)

#: One row per worker process of a run: its progress, then its partial result.
simulation_parts = Table(
    "simulation_parts",
    metadata,
    Column(
        "simulation_id",
        UUID(as_uuid=True),
        ForeignKey("simulations.simulation_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("part", SmallInteger, primary_key=True),
    Column("replayed", BigInteger, nullable=False, server_default="0"),
    Column("total", BigInteger, nullable=False, server_default="0"),
    Column("pid", Integer, nullable=True),
    Column("partial", JSON, nullable=True),
)
