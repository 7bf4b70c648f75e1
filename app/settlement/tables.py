"""Settlements 结算, their deltas and reversals, and Idempotency-Keys.

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
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CHAR, JSON, UUID


from app.kit.tables import Money, Timestamp, metadata

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
    # The encounter's ICD-10 codes as sent: read by active screening (migration 0007).
    Column("diagnoses", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    # The engine's input but the accumulators (app/engine/snapshot.py, JSON bytes): what
    # a policy simulation replays (migration 0009; NULL for older settlements).
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
    # Active screening reads one month of live settlements with a diagnosis from this
    # index alone (index-only scan; migration 0007, docs/performance.md "Screening").
    Index(
        "settlements_screening",
        "encounter_date",
        postgresql_include=["person_id", "institution_code", "settlement_id", "diagnoses"],
        postgresql_where=text("status = 'settled' AND diagnoses <> '{}'"),
    ),
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
    # Reversals are found by their time: the report fold, reconciliation (migration 0008).
    Index("settlement_reversals_reversed_at", "reversed_at"),
)


idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("institution_code", String(32), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("settlement_id", UUID(as_uuid=True), nullable=False),
    Timestamp("created_at"),
    # Only the retention purge reads it (docs/operations.md: a range of created_at); keys
    # arrive in created_at order, so a BRIN index serves that range at almost no cost per
    # settlement, where a btree took an entry per key (migration 0013).
    Index("idempotency_keys_created_at", "created_at", postgresql_using="brin"),
)
