"""Tables of the chronic-disease domain (migration 0007)."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, Index, String, Table, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, CHAR, JSONB, UUID

from app.kit.tables import Timestamp, metadata

#: Applications 慢性病鉴定申请 and their decisions — the ledger 台账 — and the registrations
#: confirmed by active screening 主动筛查 (``source = 'screening'``, approved when made).
chronic_applications = Table(
    "chronic_applications",
    metadata,
    Column("application_id", UUID(as_uuid=True), primary_key=True),
    Column("person_id", String(64), nullable=False),
    Column("disease_code", String(32), nullable=False),
    Column("month", CHAR(7), nullable=False),  # YYYY-MM: the monthly batch it joins
    Column("source", Text, nullable=False),
    Column("all_sites", Boolean, nullable=False),
    Column("sites", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("evidence", JSONB, nullable=False),
    Column("note", Text, nullable=True),
    Column("applied_by", String(32), nullable=True),  # the institution (service point); NULL: ops
    Column("applied_by_key", UUID(as_uuid=True), nullable=True),
    Column("status", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("registration_id", UUID(as_uuid=True), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", UUID(as_uuid=True), nullable=True),
    Timestamp("created_at"),
    CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
    CheckConstraint("source IN ('application', 'screening')", name="source"),
    CheckConstraint("month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'", name="month"),
    Index("chronic_applications_ledger", "month", "created_at", "application_id"),
    Index("chronic_applications_person", "person_id"),
)
