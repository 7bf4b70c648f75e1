"""E-voucher codes 医保电子凭证 (stored as SHA-256 digests).

SQLAlchemy Core definitions of this domain's tables, for building queries. The schema
itself is owned by the migrations; tests/kit/test_migrations.py checks these match it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import UUID


from app.kit.tables import Timestamp, metadata

e_vouchers = Table(
    "e_vouchers",
    metadata,
    Column("code_hash", LargeBinary, primary_key=True),
    Column("person_id", String(64), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("consumed_by", UUID(as_uuid=True), nullable=True),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
    Index("e_vouchers_expires_at", "expires_at"),
)

#: E-voucher attempts per institution, for the failure limiter shared by every worker
#: process (app.evouchers.ratelimit). A row is an attempt in flight (``failed_at`` NULL)
#: or a failed one; successful attempts are deleted when they end. Written outside the
#: request's transaction, so a refusal that rolls the settlement back still counts.
e_voucher_attempts = Table(
    "e_voucher_attempts",
    metadata,
    Column("attempt_id", BigInteger, Identity(always=False), primary_key=True),
    Column("institution_code", Text, nullable=False),
    Timestamp("started_at", default_now=False),
    Timestamp("failed_at", nullable=True, default_now=False),
    Index("ix_e_voucher_attempts_institution_code_failed_at", "institution_code", "failed_at"),
)
