"""Tables of the e-voucher domain (the ``e_vouchers`` table itself is still in app.kit.tables)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Identity, Index, Table, Text

from app.kit.tables import Timestamp, metadata

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
