"""national interface: encounters, fee lines, messages and sign-ins kept between messages

The national platform's interface (国家医保信息平台 定点医药机构接口) builds a settlement
message by message: a registration 2201 / admission 2401 makes an encounter
(``mdtrt_id``), 2203 adds its diagnoses, 2204 / 2301 upload fee lines in batches
(``chrg_bchno``), and only 2207 / 2304 settle. These tables keep that state, and every
answered message by ``msgid`` (for retries and 2601 冲正). See docs/national-interface.md.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "national_encounters",
        sa.Column("institution_code", sa.String(32), nullable=False),
        sa.Column("mdtrt_id", sa.String(30), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("insutype", postgresql.CHAR(3), nullable=True),
        sa.Column("med_type", sa.String(6), nullable=True),
        sa.Column("begntime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("endtime", sa.DateTime(timezone=True), nullable=True),
        sa.Column("diagnoses", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("dise_codg", sa.String(30), nullable=True),
        sa.Column("ipt_otp_no", sa.String(30), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("msgid", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint("kind IN ('outpatient', 'inpatient')", name="ck_national_encounters_kind"),
        sa.CheckConstraint("status IN ('open', 'cancelled')", name="ck_national_encounters_status"),
        sa.PrimaryKeyConstraint("institution_code", "mdtrt_id", name="pk_national_encounters"),
    )
    op.create_index("national_encounters_person", "national_encounters", ["institution_code", "person_id"])

    op.create_table(
        "national_fee_lines",
        sa.Column("institution_code", sa.String(32), nullable=False),
        sa.Column("mdtrt_id", sa.String(30), nullable=False),
        sa.Column("feedetl_sn", sa.String(30), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("chrg_bchno", sa.String(30), nullable=True),
        sa.Column("init_feedetl_sn", sa.String(30), nullable=True),
        sa.Column("med_list_codg", sa.String(64), nullable=False),
        sa.Column("medins_list_codg", sa.Text(), nullable=True),
        sa.Column("cnt", sa.Numeric(16, 4), nullable=False),
        sa.Column("pric", sa.Numeric(18, 6), nullable=False),
        sa.Column("det_item_fee_sumamt", sa.Numeric(14, 2), nullable=False),
        sa.Column("fee_ocur_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("msgid", sa.String(128), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("institution_code", "mdtrt_id", "feedetl_sn", name="pk_national_fee_lines"),
    )
    op.create_index("national_fee_lines_batch", "national_fee_lines", ["institution_code", "mdtrt_id", "chrg_bchno"])

    op.create_table(
        "national_messages",
        sa.Column("institution_code", sa.String(32), nullable=False),
        sa.Column("msgid", sa.String(128), nullable=False),
        sa.Column("infno", postgresql.CHAR(4), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("mdtrt_id", sa.String(30), nullable=True),
        sa.Column("settlement_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("institution_code", "msgid", name="pk_national_messages"),
    )
    op.create_index("national_messages_settlement", "national_messages", ["settlement_id"])

    op.create_table(
        "national_sign_ins",
        sa.Column("sign_no", sa.String(30), nullable=False),
        sa.Column("institution_code", sa.String(32), nullable=False),
        sa.Column("opter_no", sa.String(30), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("sign_no", name="pk_national_sign_ins"),
    )


def downgrade() -> None:
    op.drop_table("national_sign_ins")
    op.drop_index("national_messages_settlement", table_name="national_messages")
    op.drop_table("national_messages")
    op.drop_index("national_fee_lines_batch", table_name="national_fee_lines")
    op.drop_table("national_fee_lines")
    op.drop_index("national_encounters_person", table_name="national_encounters")
    op.drop_table("national_encounters")
