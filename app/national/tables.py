"""What the national interface keeps between messages (migration 0006).

The settlement itself is the settlement domain's (``settlements``); these tables hold
only what a HIS builds up message by message before it asks to settle, and what a
retried or 冲正 message needs to find its answer again:

- ``national_encounters``: a registration 2201 / admission 2401 (``mdtrt_id``), the
  person, med_type, dates, diagnoses (2203 / 2401 ``diseinfo``) and special disease.
- ``national_fee_lines``: uploaded fee lines 2204 / 2301 (``chrg_bchno`` batches),
  removed by 2205 / 2302.
- ``national_messages``: every message that changed something, by ``msgid``: its
  infno, a fingerprint of its input, the encounter or settlement it touched and the
  ``output`` answered, so a retry gets the same answer and 2601 finds what to undo.
- ``national_sign_ins``: 9001 sign-ins (``sign_no``).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, LargeBinary, Numeric, String, Table, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, CHAR, JSON, UUID

from app.kit.tables import Money, Timestamp, metadata

national_encounters = Table(
    "national_encounters",
    metadata,
    Column("institution_code", String(32), primary_key=True),
    Column("mdtrt_id", String(30), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("insutype", CHAR(3), nullable=True),
    Column("med_type", String(6), nullable=True),
    Column("begntime", DateTime(timezone=True), nullable=False),
    Column("endtime", DateTime(timezone=True), nullable=True),
    Column("diagnoses", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("dise_codg", String(30), nullable=True),
    Column("ipt_otp_no", String(30), nullable=True),
    Column("status", Text, nullable=False, server_default=text("'open'")),
    Column("msgid", String(128), nullable=False),
    Timestamp("created_at"),
    Timestamp("updated_at"),
    CheckConstraint("kind IN ('outpatient', 'inpatient')", name="kind"),
    CheckConstraint("status IN ('open', 'cancelled')", name="status"),
    Index("national_encounters_person", "institution_code", "person_id"),
)

national_fee_lines = Table(
    "national_fee_lines",
    metadata,
    Column("institution_code", String(32), primary_key=True),
    Column("mdtrt_id", String(30), primary_key=True),
    Column("feedetl_sn", String(30), primary_key=True),
    Column("line_no", Integer, nullable=False),
    Column("chrg_bchno", String(30), nullable=True),
    Column("init_feedetl_sn", String(30), nullable=True),
    Column("med_list_codg", String(64), nullable=False),
    Column("medins_list_codg", Text, nullable=True),
    Column("cnt", Numeric(16, 4), nullable=False),
    Column("pric", Numeric(18, 6), nullable=False),
    Money("det_item_fee_sumamt"),
    Column("fee_ocur_time", DateTime(timezone=True), nullable=True),
    Column("msgid", String(128), nullable=False),
    Timestamp("uploaded_at"),
    Index("national_fee_lines_batch", "institution_code", "mdtrt_id", "chrg_bchno"),
)

national_messages = Table(
    "national_messages",
    metadata,
    Column("institution_code", String(32), primary_key=True),
    Column("msgid", String(128), primary_key=True),
    Column("infno", CHAR(4), nullable=False),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("mdtrt_id", String(30), nullable=True),
    Column("settlement_id", UUID(as_uuid=True), nullable=True),
    Column("output", JSON, nullable=False),  # json keeps the exact text answered
    Timestamp("created_at"),
    Index("national_messages_settlement", "settlement_id"),
)

national_sign_ins = Table(
    "national_sign_ins",
    metadata,
    Column("sign_no", String(30), primary_key=True),
    Column("institution_code", String(32), nullable=False),
    Column("opter_no", String(30), nullable=True),
    Timestamp("signed_at"),
)

__all__ = ["national_encounters", "national_fee_lines", "national_messages", "national_sign_ins"]
