"""Tables of the reports domain (migration 0008): the daily rollup and its horizons.

``report_daily`` holds, per settlement day (+08:00) × institution × med_type × insutype ×
aid category, the sums and counts of every fund over settlements settled before
``report_rollup_state.settled_before``, minus the reversals recorded before
``reversed_before``. Everything after the horizons is read live from ``settlements``
(app.reports.rollup explains why that is exact).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, DateTime, SmallInteger, String, Table, Text
from sqlalchemy.dialects.postgresql import CHAR

from app.kit.tables import Money, metadata

#: Fund columns of ``settlements`` a report sums, in report order, with the fund's name in reports.
FUND_COLUMNS: dict[str, str] = {
    "basic": "basic_fund",
    "critical_illness": "critical_illness",
    "medical_aid": "medical_aid",
    "fallback": "fallback",
    "secondary_aid": "secondary_aid",
    "personal_account": "personal_account",
    "cash": "cash",
}

report_daily = Table(
    "report_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("institution_code", String(32), primary_key=True),
    Column("med_type", CHAR(2), primary_key=True),
    Column("insutype", CHAR(3), primary_key=True),
    # '' for persons without an aid category (a key column cannot be NULL)
    Column("aid_category", Text, primary_key=True),
    Column("settlements", BigInteger, nullable=False),
    Column("capped", BigInteger, nullable=False),
    Money("total"),
    *[c for col in FUND_COLUMNS.values() for c in (Money(col), Column(f"{col}_n", BigInteger, nullable=False))],
)

#: The same sums per calendar month (``month`` is its first day): a report reads whole months
#: here and only the days at its edges from ``report_daily`` (a month is ~30× fewer rows).
report_monthly = Table(
    "report_monthly",
    metadata,
    Column("month", Date, primary_key=True),
    Column("institution_code", String(32), primary_key=True),
    Column("med_type", CHAR(2), primary_key=True),
    Column("insutype", CHAR(3), primary_key=True),
    Column("aid_category", Text, primary_key=True),
    Column("settlements", BigInteger, nullable=False),
    Column("capped", BigInteger, nullable=False),
    Money("total"),
    *[c for col in FUND_COLUMNS.values() for c in (Money(col), Column(f"{col}_n", BigInteger, nullable=False))],
)

report_rollup_state = Table(
    "report_rollup_state",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("settled_before", DateTime(timezone=True), nullable=False),
    Column("reversed_before", DateTime(timezone=True), nullable=False),
    Column("folded_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("id = 1", name="single_row"),
)

