"""e_voucher_attempts and e_voucher_admit(): the e-voucher failure limiter, shared by all workers

The limiter counted failures in each process's memory, so N workers allowed N × limit
failures per window. Attempts now live in this table; ``e_voucher_admit`` decides and
reserves an attempt in one statement, serialised per institution by an advisory lock
(app.evouchers.ratelimit, docs/evouchers.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "e_voucher_attempts",
        sa.Column("attempt_id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("institution_code", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_e_voucher_attempts_institution_code_failed_at", "e_voucher_attempts", ["institution_code", "failed_at"]
    )
    # One round trip: forget what left the window (and attempts in flight for longer than
    # p_stale seconds: their process died), count, and either reserve an attempt
    # (attempt_id) or say how long to wait (retry_after). The advisory lock, held to the
    # end of the statement's transaction, makes admissions of one institution serial
    # across every process, so no burst can slip past the count.
    op.execute(
        """
        CREATE FUNCTION e_voucher_admit(p_institution text, p_now timestamptz, p_limit integer,
                                        p_window integer, p_stale integer,
                                        OUT attempt_id bigint, OUT retry_after integer)
        LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
          v_failures integer;
          v_in_flight integer;
          v_oldest timestamptz;
        BEGIN
          PERFORM pg_advisory_xact_lock(hashtext('medsettle.e_voucher_attempts'), hashtext(p_institution));
          DELETE FROM e_voucher_attempts a
           WHERE a.institution_code = p_institution
             AND (a.failed_at <= p_now - make_interval(secs => p_window)
                  OR (a.failed_at IS NULL AND a.started_at <= p_now - make_interval(secs => p_stale)));
          SELECT count(a.failed_at), count(*) - count(a.failed_at)
            INTO v_failures, v_in_flight
            FROM e_voucher_attempts a WHERE a.institution_code = p_institution;
          IF v_failures + v_in_flight >= p_limit THEN
            IF v_failures >= p_limit THEN
              -- the limit-th newest failure: once it leaves the window, one place is free
              SELECT a.failed_at INTO v_oldest FROM e_voucher_attempts a
               WHERE a.institution_code = p_institution AND a.failed_at IS NOT NULL
               ORDER BY a.failed_at DESC OFFSET p_limit - 1 LIMIT 1;
              retry_after := least(greatest(1, ceil(extract(epoch FROM
                               v_oldest + make_interval(secs => p_window) - p_now)))::integer, p_window);
            ELSE
              retry_after := 1;  -- attempts in flight free their places within a request's time
            END IF;
            RETURN;
          END IF;
          INSERT INTO e_voucher_attempts AS a (institution_code, started_at) VALUES (p_institution, p_now)
          RETURNING a.attempt_id INTO attempt_id;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION e_voucher_admit(text, timestamptz, integer, integer, integer)")
    op.drop_index("ix_e_voucher_attempts_institution_code_failed_at", table_name="e_voucher_attempts")
    op.drop_table("e_voucher_attempts")
