"""initial: every table of notes/schema.md

Money NUMERIC(14,2), ratios NUMERIC(7,4), unit_price NUMERIC(18,6), qty NUMERIC(14,4).

Revision ID: 0001
Revises:
Create Date: 2026-11-23 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('accumulators',
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('person_id', 'year', 'name', name=op.f('pk_accumulators'))
    )
    op.create_table('audit_log',
    sa.Column('audit_id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_key_id', sa.UUID(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('audit_id', name=op.f('pk_audit_log'))
    )
    op.create_table('catalog_items',
    sa.Column('region', sa.CHAR(length=6), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('category', sa.CHAR(length=1), nullable=False),
    sa.Column('self_pay_ratio', sa.Numeric(precision=7, scale=4), server_default=sa.text('0'), nullable=False),
    sa.Column('price_cap', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.Column('restriction', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("category IN ('A', 'B', 'C')", name=op.f('ck_catalog_items_category')),
    sa.CheckConstraint('price_cap IS NULL OR price_cap >= 0', name=op.f('ck_catalog_items_price_cap')),
    sa.CheckConstraint('self_pay_ratio >= 0 AND self_pay_ratio <= 1', name=op.f('ck_catalog_items_self_pay_ratio')),
    sa.PrimaryKeyConstraint('region', 'code', name=op.f('pk_catalog_items'))
    )
    op.create_table('cross_region_filings',
    sa.Column('filing_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('region', sa.CHAR(length=6), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('resident', 'temporary', 'referral')", name=op.f('ck_cross_region_filings_kind')),
    sa.PrimaryKeyConstraint('filing_id', name=op.f('pk_cross_region_filings'))
    )
    op.create_index('cross_region_filings_person', 'cross_region_filings', ['person_id'], unique=False)
    op.create_table('e_vouchers',
    sa.Column('code_hash', sa.LargeBinary(), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consumed_by', sa.UUID(), nullable=True),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_e_vouchers'))
    )
    op.create_index('e_vouchers_expires_at', 'e_vouchers', ['expires_at'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('institution_code', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('fingerprint', sa.LargeBinary(), nullable=False),
    sa.Column('settlement_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('institution_code', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index('idempotency_keys_created_at', 'idempotency_keys', ['created_at'], unique=False)
    op.create_table('persons',
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('certno', sa.CHAR(length=18), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('gender', sa.Text(), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('insured_region', sa.CHAR(length=6), nullable=False),
    sa.Column('retired', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('supplementary', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('aid_category', sa.Text(), nullable=True),
    sa.Column('account_balance', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("aid_category IN ('extreme_poverty', 'minimum_living', 'registered_poor', 'low_income')", name=op.f('ck_persons_aid_category')),
    sa.CheckConstraint("gender IN ('male', 'female')", name=op.f('ck_persons_gender')),
    sa.CheckConstraint('account_balance >= 0', name=op.f('ck_persons_account_balance')),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_persons'))
    )
    op.create_table('policies',
    sa.Column('region', sa.CHAR(length=6), nullable=False),
    sa.Column('insutype', sa.CHAR(length=3), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('revision', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('in_use', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('region', 'insutype', 'effective_from', name=op.f('pk_policies'))
    )
    op.create_table('referrals',
    sa.Column('referral_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('from_institution', sa.String(length=32), nullable=False),
    sa.Column('to_institution', sa.String(length=32), nullable=False),
    sa.Column('origin_settlement_id', sa.UUID(), nullable=True),
    sa.Column('direction', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('consumed_by', sa.UUID(), nullable=True),
    sa.CheckConstraint("direction IN ('downward', 'upward', 'same')", name=op.f('ck_referrals_direction')),
    sa.PrimaryKeyConstraint('referral_id', name=op.f('pk_referrals'))
    )
    op.create_table('regions',
    sa.Column('code', sa.CHAR(length=6), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_regions'))
    )
    op.create_table('settlements',
    sa.Column('settlement_id', sa.UUID(), nullable=False),
    sa.Column('institution_code', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('encounter_id', sa.String(length=64), nullable=False),
    sa.Column('insutype', sa.CHAR(length=3), nullable=False),
    sa.Column('med_type', sa.CHAR(length=2), nullable=False),
    sa.Column('encounter_date', sa.Date(), nullable=False),
    sa.Column('accumulation_year', sa.SmallInteger(), nullable=False),
    sa.Column('policy_region', sa.CHAR(length=6), nullable=False),
    sa.Column('policy_insutype', sa.CHAR(length=3), nullable=False),
    sa.Column('policy_effective_from', sa.Date(), nullable=False),
    sa.Column('cross_region', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('self_pay_full', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('over_limit', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('pre_self_pay', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('in_scope', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('deductible', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('pool_self_pay', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('over_cap', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('basic_fund', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('critical_illness', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('medical_aid', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('fallback', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('secondary_aid', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('fund_total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('personal_total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('personal_account', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('cash', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('referral_id', sa.UUID(), nullable=True),
    sa.Column('e_voucher_hash', sa.LargeBinary(), nullable=True),
    sa.Column('response', postgresql.JSON(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("status IN ('settled', 'reversed')", name=op.f('ck_settlements_status')),
    sa.PrimaryKeyConstraint('settlement_id', name=op.f('pk_settlements'))
    )
    op.create_index('settlements_institution', 'settlements', ['institution_code', 'settled_at', 'settlement_id'], unique=False)
    op.create_index('settlements_live_encounter', 'settlements', ['institution_code', 'encounter_id'], unique=True, postgresql_where=sa.text("status = 'settled'"))
    op.create_index('settlements_person', 'settlements', ['person_id', 'encounter_date'], unique=False)
    op.create_index('settlements_settled_at', 'settlements', ['settled_at', 'settlement_id'], unique=False)
    op.create_table('special_disease_registrations',
    sa.Column('registration_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('disease_code', sa.String(length=32), nullable=False),
    sa.Column('certifier_code', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('all_sites', sa.Boolean(), nullable=False),
    sa.Column('sites', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('superseded_by', sa.UUID(), nullable=True),
    sa.PrimaryKeyConstraint('registration_id', name=op.f('pk_special_disease_registrations'))
    )
    op.create_index('special_disease_registrations_person', 'special_disease_registrations', ['person_id'], unique=False)
    op.create_table('enrollments',
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('insutype', sa.CHAR(length=3), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("insutype IN ('310', '390')", name=op.f('ck_enrollments_insutype')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_enrollments_validity')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.person_id'], name=op.f('fk_enrollments_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'insutype', 'valid_from', name=op.f('pk_enrollments'))
    )
    op.create_table('institutions',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=True),
    sa.Column('region', sa.CHAR(length=6), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'hospital' AND level BETWEEN 1 AND 3) OR (kind = 'community' AND level = 1) OR (kind = 'pharmacy' AND level IS NULL)", name=op.f('ck_institutions_level')),
    sa.CheckConstraint("kind IN ('hospital', 'community', 'pharmacy')", name=op.f('ck_institutions_kind')),
    sa.ForeignKeyConstraint(['region'], ['regions.code'], name=op.f('fk_institutions_region_regions')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_institutions'))
    )
    op.create_table('settlement_deltas',
    sa.Column('settlement_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], name=op.f('fk_settlement_deltas_settlement_id_settlements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('settlement_id', 'name', name=op.f('pk_settlement_deltas'))
    )
    op.create_table('settlement_funds',
    sa.Column('settlement_id', sa.UUID(), nullable=False),
    sa.Column('fund', sa.Text(), nullable=False),
    sa.Column('fund_pay_type', sa.Text(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('basis', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], name=op.f('fk_settlement_funds_settlement_id_settlements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('settlement_id', 'fund', name=op.f('pk_settlement_funds'))
    )
    op.create_table('settlement_items',
    sa.Column('settlement_id', sa.UUID(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('category', sa.CHAR(length=1), nullable=True),
    sa.Column('self_pay_full', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('over_limit', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('pre_self_pay', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('in_scope', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], name=op.f('fk_settlement_items_settlement_id_settlements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('settlement_id', 'line_no', name=op.f('pk_settlement_items'))
    )
    op.create_table('settlement_reversals',
    sa.Column('settlement_id', sa.UUID(), nullable=False),
    sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reversed_by', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], name=op.f('fk_settlement_reversals_settlement_id_settlements')),
    sa.PrimaryKeyConstraint('settlement_id', name=op.f('pk_settlement_reversals'))
    )
    op.create_table('api_keys',
    sa.Column('key_id', sa.UUID(), nullable=False),
    sa.Column('key_hash', sa.LargeBinary(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('institution_code', sa.String(length=32), nullable=True),
    sa.Column('label', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(role = 'institution') = (institution_code IS NOT NULL)", name=op.f('ck_api_keys_institution_binding')),
    sa.CheckConstraint("role IN ('institution', 'wallet', 'ops', 'admin')", name=op.f('ck_api_keys_role')),
    sa.ForeignKeyConstraint(['institution_code'], ['institutions.code'], name=op.f('fk_api_keys_institution_code_institutions')),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )


def downgrade() -> None:
    op.drop_table('api_keys')
    op.drop_table('settlement_reversals')
    op.drop_table('settlement_items')
    op.drop_table('settlement_funds')
    op.drop_table('settlement_deltas')
    op.drop_table('institutions')
    op.drop_table('enrollments')
    op.drop_index('special_disease_registrations_person', table_name='special_disease_registrations')
    op.drop_table('special_disease_registrations')
    op.drop_index('settlements_settled_at', table_name='settlements')
    op.drop_index('settlements_person', table_name='settlements')
    op.drop_index('settlements_live_encounter', table_name='settlements', postgresql_where=sa.text("status = 'settled'"))
    op.drop_index('settlements_institution', table_name='settlements')
    op.drop_table('settlements')
    op.drop_table('regions')
    op.drop_table('referrals')
    op.drop_table('policies')
    op.drop_table('persons')
    op.drop_index('idempotency_keys_created_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index('e_vouchers_expires_at', table_name='e_vouchers')
    op.drop_table('e_vouchers')
    op.drop_index('cross_region_filings_person', table_name='cross_region_filings')
    op.drop_table('cross_region_filings')
    op.drop_table('catalog_items')
    op.drop_table('audit_log')
    op.drop_table('accumulators')
