"""settlement_e_voucher_gate(): the read by e-voucher code without sub-plans it rarely runs

The settlement's read by code (app.settlement.repository.READ_BY_E_VOUCHER_SQL) called
``e_voucher_gate`` (migration 0011) when the institution was at its limit or the code
was consumed or expired, the latter only if the request's Idempotency-Key was not
taken (a retry of the settlement that consumed the code is no attempt). That key test
was written in the read twice, as two sub-plans that PostgreSQL sets up on every
execution although they run only for a failing code; with the institution's count of
live attempts (a join and an aggregate), they made the read by code ≈ 20 µs of the
server's CPU dearer than it needs to be (eight connections, docs/performance.md).

This function takes the key test inside: the read calls it when the code is consumed or
expired or when the institution has any live attempt (an ``EXISTS``, in place of the
count), and it calls ``e_voucher_gate`` with the reservation asked only for a failing
code whose key is not taken. ``e_voucher_gate`` decides as before — under the limit a
code is admitted, at it refused with the seconds to wait — so the admissions are the
same; the gate runs more often only while an institution has live failures or attempts
in flight. docs/evouchers.md.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION settlement_e_voucher_gate(p_institution text, p_key text, p_now timestamptz,
                                                  p_limit integer, p_window integer, p_stale integer,
                                                  p_failing boolean,
                                                  OUT admitted boolean, OUT attempt_id bigint,
                                                  OUT retry_after integer)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
          SELECT g.admitted, g.attempt_id, g.retry_after INTO admitted, attempt_id, retry_after
            FROM e_voucher_gate(p_institution, p_now, p_limit, p_window, p_stale,
                                p_failing AND NOT EXISTS (SELECT 1 FROM idempotency_keys k
                                                          WHERE k.institution_code = p_institution
                                                            AND k.key = p_key)) g;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION settlement_e_voucher_gate(text, text, timestamptz, integer, integer, integer, boolean)"
    )
