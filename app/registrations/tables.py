"""Special-disease registrations 门特登记, cross-region filings 异地备案 and referrals 转诊.

SQLAlchemy Core definitions of this domain's tables, for building queries. The schema
itself is owned by the migrations; tests/kit/test_migrations.py checks these match it.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CHAR, UUID


from app.kit.tables import Timestamp, metadata

special_disease_registrations = Table(
    "special_disease_registrations",
    metadata,
    Column("registration_id", UUID(as_uuid=True), primary_key=True),
    Column("person_id", String(64), nullable=False),
    Column("disease_code", String(32), nullable=False),
    Column("certifier_code", String(32), nullable=True),  # NULL: made by ops (migration 0007)
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("all_sites", Boolean, nullable=False),
    Column("sites", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Timestamp("created_at"),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("superseded_by", UUID(as_uuid=True), nullable=True),
    Index("special_disease_registrations_person", "person_id"),
)


cross_region_filings = Table(
    "cross_region_filings",
    metadata,
    Column("filing_id", UUID(as_uuid=True), primary_key=True),
    Column("person_id", String(64), nullable=False),
    Column("region", CHAR(6), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("kind", Text, nullable=False),
    Timestamp("created_at"),
    CheckConstraint("kind IN ('resident', 'temporary', 'referral')", name="kind"),
    Index("cross_region_filings_person", "person_id"),
)


referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", UUID(as_uuid=True), primary_key=True),
    Column("person_id", String(64), nullable=False),
    Column("from_institution", String(32), nullable=False),
    Column("to_institution", String(32), nullable=False),
    Column("origin_settlement_id", UUID(as_uuid=True), nullable=True),
    Column("direction", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Timestamp("created_at"),
    Column("consumed_by", UUID(as_uuid=True), nullable=True),
    CheckConstraint("direction IN ('downward', 'upward', 'same')", name="direction"),
)
