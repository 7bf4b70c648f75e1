"""Contribution tiers, settlement diagnoses, chronic-disease applications (seeds 000, 002, 004)

- ``enrollments.tier`` 缴费档次: picks the tiered amounts of a policy (policy.md, tiers).
- ``settlements.diagnoses``: the encounter's ICD-10 codes as sent, read by active
  screening 主动筛查 (api.md, "Chronic-disease applications and screening").
- ``special_disease_registrations.certifier_code`` may be NULL: a registration made by
  ops (a batch approving an application ops filed, a screening confirmation) has no
  certifying institution.
- ``chronic_applications``: the applications and their decisions, i.e. the ledger 台账,
  and the registrations confirmed by screening (``source = 'screening'``).
- ``settlements_screening``: a partial covering index, so that the screening reads one
  month of live settlements with a diagnosis from the index alone (docs/performance.md,
  "Screening").

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("tier", sa.SmallInteger(), nullable=True))
    op.create_check_constraint("ck_enrollments_tier", "enrollments", "tier IS NULL OR tier BETWEEN 1 AND 99")
    op.add_column(
        "settlements",
        sa.Column("diagnoses", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    )
    op.alter_column("special_disease_registrations", "certifier_code", nullable=True)
    op.create_table(
        "chronic_applications",
        sa.Column("application_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("disease_code", sa.String(32), nullable=False),
        sa.Column("month", sa.CHAR(7), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("all_sites", sa.Boolean(), nullable=False),
        sa.Column("sites", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("evidence", postgresql.JSONB(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("applied_by", sa.String(32), nullable=True),
        sa.Column("applied_by_key", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("registration_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name="ck_chronic_applications_status"),
        sa.CheckConstraint("source IN ('application', 'screening')", name="ck_chronic_applications_source"),
        sa.CheckConstraint("month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'", name="ck_chronic_applications_month"),
        sa.PrimaryKeyConstraint("application_id", name="pk_chronic_applications"),
    )
    op.create_index(
        "chronic_applications_ledger", "chronic_applications", ["month", "created_at", "application_id"]
    )
    op.create_index("chronic_applications_person", "chronic_applications", ["person_id"])
    op.create_index(
        "settlements_screening",
        "settlements",
        ["encounter_date"],
        postgresql_include=["person_id", "institution_code", "settlement_id", "diagnoses"],
        postgresql_where=sa.text("status = 'settled' AND diagnoses <> '{}'"),
    )


def downgrade() -> None:
    op.drop_index("settlements_screening", table_name="settlements")
    op.drop_index("chronic_applications_person", table_name="chronic_applications")
    op.drop_index("chronic_applications_ledger", table_name="chronic_applications")
    op.drop_table("chronic_applications")
    op.execute("DELETE FROM special_disease_registrations WHERE certifier_code IS NULL")
    op.alter_column("special_disease_registrations", "certifier_code", nullable=False)
    op.drop_column("settlements", "diagnoses")
    op.drop_constraint("ck_enrollments_tier", "enrollments", type_="check")
    op.drop_column("enrollments", "tier")
