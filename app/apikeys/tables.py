"""API keys (stored as SHA-256 digests).

SQLAlchemy Core definitions of this domain's tables, for building queries. The schema
itself is owned by the migrations; tests/kit/test_migrations.py checks these match it.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import UUID


from app.kit.tables import Timestamp, metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", UUID(as_uuid=True), primary_key=True),
    Column("key_hash", LargeBinary, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("institution_code", String(32), ForeignKey("institutions.code"), nullable=True),
    Column("label", Text, nullable=False, server_default=""),
    Timestamp("created_at"),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("role IN ('institution', 'wallet', 'ops', 'admin')", name="role"),
    CheckConstraint("(role = 'institution') = (institution_code IS NOT NULL)", name="institution_binding"),
)
