"""E-voucher codes 医保电子凭证 (stored as SHA-256 digests).

SQLAlchemy Core definitions of this domain's tables, for building queries. The schema
itself is owned by the migrations; tests/kit/test_migrations.py checks these match it.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import UUID


from app.kit.tables import metadata

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
