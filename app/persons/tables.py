"""Insured persons 参保人, their enrollments 参保 and accumulators 累计.

SQLAlchemy Core definitions of this domain's tables, for building queries. The schema
itself is owned by the migrations; tests/kit/test_migrations.py checks these match it.
"""

from __future__ import annotations

from sqlalchemy import (
    Index,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import CHAR


from app.kit.tables import Money, Timestamp, metadata

persons = Table(
    "persons",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("certno", CHAR(18), nullable=False),
    Column("name", Text, nullable=False),
    Column("gender", Text, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("insured_region", CHAR(6), nullable=False),
    Column("retired", Boolean, nullable=False, server_default=text("false")),
    Column("supplementary", Boolean, nullable=False, server_default=text("false")),
    Column("aid_category", Text, nullable=True),
    Money("account_balance"),
    # Bumped by every write of the person's accumulators or balance: the optimistic
    # settlement write is guarded by the version it read (app.settlement.repository).
    Column("state_version", BigInteger, nullable=False, server_default=text("0")),
    Timestamp("updated_at"),
    CheckConstraint("gender IN ('male', 'female')", name="gender"),
    CheckConstraint(
        "aid_category IN ('extreme_poverty', 'minimum_living', 'registered_poor', 'low_income')",
        name="aid_category",
    ),
    CheckConstraint("account_balance >= 0", name="account_balance"),
    # POST /v1/persons/lookup finds a person by the ID number the patient presents.
    Index("persons_certno", "certno"),
)


enrollments = Table(
    "enrollments",
    metadata,
    Column("person_id", String(64), ForeignKey("persons.person_id", ondelete="CASCADE"), primary_key=True),
    Column("insutype", CHAR(3), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("valid_to", Date, nullable=True),
    Column("tier", SmallInteger, nullable=True),  # 缴费档次 (migration 0007)
    CheckConstraint("insutype IN ('310', '390')", name="insutype"),
    CheckConstraint("tier IS NULL OR tier BETWEEN 1 AND 99", name="tier"),
    CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity"),
)


accumulators = Table(
    "accumulators",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("year", SmallInteger, primary_key=True),
    Column("name", Text, primary_key=True),
    Money("amount"),
)
