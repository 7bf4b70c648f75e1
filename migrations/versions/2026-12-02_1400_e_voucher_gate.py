"""e_voucher_gate(): the e-voucher limiter's admission without a write for a usable code

A settlement by e-voucher code took its limiter admission in its read (migration 0005's
``e_voucher_admit``): an advisory lock, a DELETE, a count and an INSERT of the attempt,
and a DELETE of it again with the settlement. At a few hundred code settlements a
second per institution the inserted-then-deleted rows left tens of thousands of dead
index entries that every count walked (admissions fell from ≈ 1,150/s to ≈ 600/s within
a minute, docs/performance.md).

A code the read finds usable (not consumed, not expired) cannot end as a failure of the
code: its attempt needs no place reserved, only the check that the institution is not
locked out. ``e_voucher_gate`` does that check with one read of the institution's live
attempts, no lock and no write; only a code the read finds consumed or expired (a
failure in the making) is reserved exactly as before, through ``e_voucher_admit``.
Unknown codes never reach it (the settlement's locked path admits them through the
limiter's own connection). docs/evouchers.md.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # What e_voucher_admit would delete (failures out of the window, stale attempts in
    # flight) is left out of the count instead, so both decide alike on the same rows.
    op.execute(
        """
        CREATE FUNCTION e_voucher_gate(p_institution text, p_now timestamptz, p_limit integer,
                                       p_window integer, p_stale integer, p_reserve boolean,
                                       OUT admitted boolean, OUT attempt_id bigint,
                                       OUT retry_after integer)
        LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
          v_failures integer;
          v_in_flight integer;
          v_oldest timestamptz;
        BEGIN
          IF p_reserve THEN
            SELECT x.attempt_id, x.retry_after INTO attempt_id, retry_after
              FROM e_voucher_admit(p_institution, p_now, p_limit, p_window, p_stale) x;
            admitted := attempt_id IS NOT NULL;
            RETURN;
          END IF;
          SELECT count(*) FILTER (WHERE a.failed_at > p_now - make_interval(secs => p_window)),
                 count(*) FILTER (WHERE a.failed_at IS NULL
                                    AND a.started_at > p_now - make_interval(secs => p_stale))
            INTO v_failures, v_in_flight
            FROM e_voucher_attempts a WHERE a.institution_code = p_institution;
          IF v_failures + v_in_flight < p_limit THEN
            admitted := true;
            RETURN;
          END IF;
          admitted := false;
          IF v_failures >= p_limit THEN
            SELECT a.failed_at INTO v_oldest FROM e_voucher_attempts a
             WHERE a.institution_code = p_institution AND a.failed_at IS NOT NULL
             ORDER BY a.failed_at DESC OFFSET p_limit - 1 LIMIT 1;
            retry_after := least(greatest(1, ceil(extract(epoch FROM
                             v_oldest + make_interval(secs => p_window) - p_now)))::integer, p_window);
          ELSE
            retry_after := 1;
          END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION e_voucher_gate(text, timestamptz, integer, integer, integer, boolean)")
