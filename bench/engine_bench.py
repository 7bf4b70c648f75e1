"""Micro-benchmark of the settlement engine alone (not a test).

Settles one 20-line inpatient encounter for a minimum-living Dongguan resident
(every layer in play: basic, critical illness, medical aid, secondary aid) N
times and prints settlements per second and microseconds per settlement.

    python bench/engine_bench.py [N]        # default N = 20000
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.model import (  # noqa: E402
    Accumulators,
    CatalogItem,
    Encounter,
    Enrollment,
    FeeLine,
    Institution,
    Person,
    Restriction,
    Settlement,
    SettlementContext,
)
from app.engine.policy_doc import policy_from_document  # noqa: E402
from app.engine.settle import settle  # noqa: E402

POLICY_FILE = ROOT / "tests" / "engine" / "policies" / "dongguan_390.json"


def scenario() -> tuple[Encounter, SettlementContext]:
    policy = policy_from_document(json.loads(POLICY_FILE.read_text(encoding="utf-8")))
    catalog: dict[str, CatalogItem | None] = {}
    lines = []
    for n in range(1, 21):
        code = f"X{n:03d}"
        kind = n % 5
        if kind == 0:
            catalog[code] = CatalogItem(code, code, "A")
        elif kind == 1:
            catalog[code] = CatalogItem(code, code, "B", self_pay_ratio=Decimal("0.10"))
        elif kind == 2:
            catalog[code] = CatalogItem(code, code, "A", price_cap=Decimal("80.00"))
        elif kind == 3:
            catalog[code] = CatalogItem(code, code, "B", self_pay_ratio=Decimal("0.05"),
                                        restriction=Restriction(med_types=("21",), diagnoses=("I21",), min_level=2))
        else:
            catalog[code] = None if n % 2 else CatalogItem(code, code, "C")
        lines.append(FeeLine(n, code, Decimal(n % 4 + 1), Decimal("97.35") * n))
    encounter = Encounter(
        med_type="21",
        encounter_date=dt.date(2026, 6, 15),
        lines=tuple(lines),
        insutype="390",
        diagnoses=("I21.000",),
    )
    ctx = SettlementContext(
        person=Person("P441900001", "441900", (Enrollment("390", dt.date(2020, 1, 1)),),
                      aid_category="minimum_living"),
        institution=Institution("H44190000003", "hospital", 3, "441900"),
        policy=policy,
        catalog=catalog,
        accumulators=Accumulators({"ci_base": Decimal("5000.00"), "sa_base": Decimal("6500.00"),
                                   "basic_paid": Decimal("12000.00")}),
    )
    return encounter, ctx


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    encounter, ctx = scenario()
    result = settle(encounter, ctx)
    assert isinstance(result, Settlement), result
    for _ in range(min(n, 1000)):  # warm up
        settle(encounter, ctx)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        settle(encounter, ctx)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    t = result.totals
    print(f"20-line inpatient encounter: total {t.total}, funds {t.fund_total}, cash {t.cash}")
    print(f"{n} settlements in {wall:.3f} s wall, {cpu:.3f} s CPU")
    print(f"{n / wall:,.0f} settlements/s; {wall / n * 1e6:.1f} µs per settlement "
          f"({cpu / n * 1e6:.1f} µs CPU)")


if __name__ == "__main__":
    main()
