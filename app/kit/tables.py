"""The schema's metadata and column types, and kit's own table (the audit log).

Each domain defines its tables beside it (`app/<domain>/tables.py`) on this metadata;
`app.schema` imports them all (for alembic and the drift test). The schema itself is
owned by the migrations; tests/kit/test_migrations.py checks the definitions match it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Numeric,
    Table,
    Text,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

#: In ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: true when the row was inserted, false when updated.
UPSERT_CREATED = literal_column("(xmax = 0)").label("created")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def Money(name: str, nullable: bool = False) -> Column:  # noqa: N802 - column factory
    return Column(name, Numeric(14, 2), nullable=nullable)


def Ratio(name: str, nullable: bool = False, **kw: object) -> Column:  # noqa: N802
    return Column(name, Numeric(7, 4), nullable=nullable, **kw)


def Timestamp(name: str, nullable: bool = False, default_now: bool = True) -> Column:  # noqa: N802
    return Column(name, DateTime(timezone=True), nullable=nullable, server_default=func.now() if default_now else None)


audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", BigInteger, primary_key=True, autoincrement=True),
    Timestamp("at"),
    Column("actor_key_id", UUID(as_uuid=True), nullable=True),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", JSONB(none_as_null=True), nullable=True),
)

