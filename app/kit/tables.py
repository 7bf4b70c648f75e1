"""SQLAlchemy Core table definitions mirroring the initial migration (schema.md).

The schema itself is owned by the alembic migrations; these definitions are for
building queries. ``tests/test_migrations.py`` checks they match the migrated
database, so a drift between the two fails a test.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CHAR, JSON, JSONB, UUID

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
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("person_id", String(64), ForeignKey("persons.person_id", ondelete="CASCADE"), primary_key=True),
    Column("insutype", CHAR(3), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("valid_to", Date, nullable=True),
    CheckConstraint("insutype IN ('310', '390')", name="insutype"),
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

SETTLEMENT_MONEY_COLUMNS = (
    "total", "self_pay_full", "over_limit", "pre_self_pay", "in_scope", "deductible", "pool_self_pay",
    "over_cap", "basic_fund", "critical_illness", "medical_aid", "fallback", "secondary_aid",
    "fund_total", "personal_total", "personal_account", "cash",
)  # fmt: skip

settlements = Table(
    "settlements",
    metadata,
    Column("settlement_id", UUID(as_uuid=True), primary_key=True),
    Column("institution_code", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("encounter_id", String(64), nullable=False),
    Column("insutype", CHAR(3), nullable=False),
    Column("med_type", CHAR(2), nullable=False),
    Column("encounter_date", Date, nullable=False),
    Column("accumulation_year", SmallInteger, nullable=False),
    Column("policy_region", CHAR(6), nullable=False),
    Column("policy_insutype", CHAR(3), nullable=False),
    Column("policy_effective_from", Date, nullable=False),
    Column("cross_region", Boolean, nullable=False),
    Column("status", Text, nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=False),
    Column("reversed_at", DateTime(timezone=True), nullable=True),
    *[Money(name) for name in SETTLEMENT_MONEY_COLUMNS],
    Column("referral_id", UUID(as_uuid=True), nullable=True),
    Column("e_voucher_hash", LargeBinary, nullable=True),
    Column("response", JSON, nullable=False),  # json keeps the exact text replayed
    # The engine's input but the accumulators (app/engine/snapshot.py, JSON bytes): what
    # a policy simulation replays (migration 0010; NULL for older settlements).
    Column("engine_input", LargeBinary, nullable=True),
    CheckConstraint("status IN ('settled', 'reversed')", name="status"),
    Index(
        "settlements_live_encounter",
        "institution_code",
        "encounter_id",
        unique=True,
        postgresql_where=text("status = 'settled'"),
    ),
    Index("settlements_person", "person_id", "encounter_date"),
    Index("settlements_institution", "institution_code", "settled_at", "settlement_id"),
    Index("settlements_settled_at", "settled_at", "settlement_id"),
)

# settlement_items and settlement_funds are views over settlements.response (migration
# 0003): the lines are stored once, in the response the caller was given.

settlement_deltas = Table(
    "settlement_deltas",
    metadata,
    Column(
        "settlement_id", UUID(as_uuid=True), ForeignKey("settlements.settlement_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("name", Text, primary_key=True),
    Money("amount"),
)

settlement_reversals = Table(
    "settlement_reversals",
    metadata,
    Column("settlement_id", UUID(as_uuid=True), ForeignKey("settlements.settlement_id"), primary_key=True),
    Column("reversed_at", DateTime(timezone=True), nullable=False),
    Column("reversed_by", UUID(as_uuid=True), nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("institution_code", String(32), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("settlement_id", UUID(as_uuid=True), nullable=False),
    Timestamp("created_at"),
    Index("idempotency_keys_created_at", "created_at"),
)

special_disease_registrations = Table(
    "special_disease_registrations",
    metadata,
    Column("registration_id", UUID(as_uuid=True), primary_key=True),
    Column("person_id", String(64), nullable=False),
    Column("disease_code", String(32), nullable=False),
    Column("certifier_code", String(32), nullable=False),
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

__all__ = [
    "metadata", "regions", "institutions", "api_keys", "catalog_items", "policies", "persons", "enrollments",
    "accumulators", "settlements", "settlement_deltas",
    "settlement_reversals", "idempotency_keys", "special_disease_registrations", "cross_region_filings",
    "referrals", "e_vouchers", "audit_log", "SETTLEMENT_MONEY_COLUMNS",
]  # fmt: skip


# Tables of domains that keep their own tables module, on the same metadata.
import app.simulations.tables  # noqa: E402,F401  (after metadata exists: it imports it)
