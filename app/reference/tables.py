"""Regions, institutions 定点医药机构, the catalog 医保目录 and policy versions 待遇政策.

SQLAlchemy Core definitions of this domain's tables, for building queries. The schema
itself is owned by the migrations; tests/kit/test_migrations.py checks these match it.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import CHAR, JSONB


from app.kit.tables import Ratio, Timestamp, metadata

regions = Table(
    "regions",
    metadata,
    Column("code", CHAR(6), primary_key=True),
    Column("name", Text, nullable=False),
    Timestamp("updated_at"),
)


institutions = Table(
    "institutions",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("level", SmallInteger, nullable=True),
    Column("region", CHAR(6), ForeignKey("regions.code"), nullable=False),
    Column("active", Boolean, nullable=False),
    Timestamp("updated_at"),
    CheckConstraint("kind IN ('hospital', 'community', 'pharmacy')", name="kind"),
    CheckConstraint(
        "(kind = 'hospital' AND level BETWEEN 1 AND 3)"
        " OR (kind = 'community' AND level = 1)"
        " OR (kind = 'pharmacy' AND level IS NULL)",
        name="level",
    ),
)


catalog_items = Table(
    "catalog_items",
    metadata,
    Column("region", CHAR(6), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("category", CHAR(1), nullable=False),
    Ratio("self_pay_ratio", server_default=text("0")),
    Column("price_cap", Numeric(18, 6), nullable=True),
    Column("restriction", JSONB(none_as_null=True), nullable=True),
    Timestamp("updated_at"),
    CheckConstraint("category IN ('A', 'B', 'C')", name="category"),
    CheckConstraint("self_pay_ratio >= 0 AND self_pay_ratio <= 1", name="self_pay_ratio"),
    CheckConstraint("price_cap IS NULL OR price_cap >= 0", name="price_cap"),
)


policies = Table(
    "policies",
    metadata,
    Column("region", CHAR(6), primary_key=True),
    Column("insutype", CHAR(3), primary_key=True),
    Column("effective_from", Date, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("revision", Integer, nullable=False, server_default=text("1")),
    Column("in_use", Boolean, nullable=False, server_default=text("false")),
    Timestamp("updated_at"),
)
