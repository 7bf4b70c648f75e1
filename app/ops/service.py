"""What the dashboard shows: figures of the last 90 days, from the report rollup."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.ops import repository
from app.reports import rollup
from app.reports.service import FUND_NAMES, aggregate
from app.reports.service import FUND_COLUMNS

DAYS = 90
#: Funds proper (not the personal account or cash): what an institution is paid by the funds.
PAYING_FUNDS = ("basic_fund", "critical_illness", "medical_aid", "fallback", "secondary_aid")
AID_FUNDS = ("medical_aid", "fallback", "secondary_aid")
AID_CATEGORY_NAMES = {
    "extreme_poverty": "特困人员",
    "minimum_living": "低保对象",
    "registered_poor": "返贫致贫人口",
    "low_income": "低收入人口",
    "": "无救助类别",
}
KIND_NAMES = {"totals": "对总账", "details": "对明细账"}


@dataclass
class Dashboard:
    date_from: dt.date
    date_to: dt.date
    daily: list[tuple[dt.date, int, dict[str, Decimal]]] = field(default_factory=list)
    by_fund: list[tuple[str, Decimal]] = field(default_factory=list)
    top_institutions: list[tuple[str, Decimal, int]] = field(default_factory=list)
    settlements: int = 0
    capped: int = 0
    aid_by_category: list[tuple[str, Decimal]] = field(default_factory=list)
    reconciliations: list[Any] = field(default_factory=list)

    @property
    def capped_share(self) -> Decimal:
        if not self.settlements:
            return Decimal("0")
        return (Decimal(self.capped) * 100 / Decimal(self.settlements)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _funds(m: Any, columns: tuple[str, ...]) -> Decimal:
    return sum((m[c] or Decimal("0") for c in columns), Decimal("0"))


async def dashboard(session: AsyncSession, today: dt.date, margin: dt.timedelta) -> Dashboard:
    await rollup.fold(session, margin)
    date_from = today - dt.timedelta(days=DAYS - 1)
    board = Dashboard(date_from, today)
    for r in sorted(await aggregate(session, date_from, today, ["day"]), key=lambda r: r.k0):
        m = r._mapping
        if m["settlements"]:
            board.daily.append((m["k0"], int(m["settlements"]), {f: m[c] for f, c in FUND_COLUMNS.items()}))
    totals = await aggregate(session, date_from, today, [])
    if totals:
        m = totals[0]._mapping
        board.settlements = int(m["settlements"] or 0)
        board.capped = int(m["capped"] or 0)
        board.by_fund = [(f, m[c]) for f, c in FUND_COLUMNS.items() if m[c]]
    inst = [(r.k0, _funds(r._mapping, PAYING_FUNDS), int(r.settlements)) for r in
            await aggregate(session, date_from, today, ["institution_code"])]  # fmt: skip
    board.top_institutions = sorted((x for x in inst if x[1]), key=lambda x: (-x[1], x[0]))[:10]
    aid = [(r.k0 or "", _funds(r._mapping, AID_FUNDS)) for r in
           await aggregate(session, date_from, today, ["aid_category"])]  # fmt: skip
    board.aid_by_category = sorted((x for x in aid if x[1]), key=lambda x: (-x[1], x[0]))
    board.reconciliations = await repository.last_reconciliations(session)
    return board


__all__ = ["Dashboard", "dashboard", "FUND_NAMES", "AID_CATEGORY_NAMES", "KIND_NAMES"]
