"""Tables of the ops dashboard (migration 0008): server-side sign-in sessions."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, LargeBinary, Table, Text
from sqlalchemy.dialects.postgresql import UUID

from app.kit.tables import Timestamp, metadata

#: A session cookie holds a random token; only its SHA-256 is stored here.
ops_sessions = Table(
    "ops_sessions",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("key_id", UUID(as_uuid=True), nullable=False),
    Column("role", Text, nullable=False),
    Timestamp("created_at"),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ops_sessions_expires_at", "expires_at"),
)
