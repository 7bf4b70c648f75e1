"""§3 Item classification: each fee line split into 全自费, 超限价, 先行自付 and 政策范围内."""

from __future__ import annotations

from decimal import Decimal

from app.engine.model import (
    PHARMACY,
    SPECIAL_OUTPATIENT,
    CatalogItem,
    Encounter,
    FeeLine,
    Institution,
    ItemResult,
    Restriction,
)
from app.engine.money import round2

ZERO2 = Decimal("0.00")

NOT_IN_CATALOG = "not_in_catalog"
CATEGORY_C = "category_c"
RESTRICTED = "restricted"


def restriction_met(restriction: Restriction | None, encounter: Encounter, institution: Institution) -> bool:
    """限定支付范围: every test the restriction names must pass."""
    if restriction is None:
        return True
    if restriction.med_types is not None and encounter.med_type not in restriction.med_types:
        return False
    if restriction.diagnoses is not None:
        prefixes = tuple(p.upper() for p in restriction.diagnoses)
        if not any(d.upper().startswith(prefixes) for d in encounter.diagnoses):
            return False
    if restriction.special_diseases is not None:
        if encounter.med_type != SPECIAL_OUTPATIENT or encounter.special_disease not in restriction.special_diseases:
            return False
    if restriction.min_level is not None:
        # A pharmacy has no level and so never meets a level requirement.
        if institution.kind == PHARMACY or institution.level is None or institution.level < restriction.min_level:
            return False
    return True


def classify_line(
    line: FeeLine, item: CatalogItem | None, encounter: Encounter, institution: Institution
) -> ItemResult:
    amount = round2(line.qty * line.unit_price)
    name = line.name if line.name is not None else (item.name if item is not None else None)
    category = item.category if item is not None else None

    reason: str | None = None
    if item is None:
        reason = NOT_IN_CATALOG
    elif item.category == "C":
        reason = CATEGORY_C
    elif item.restriction is not None and not restriction_met(item.restriction, encounter, institution):
        reason = RESTRICTED

    if reason is not None:
        return ItemResult(
            line_no=line.line_no,
            code=line.code,
            name=name,
            qty=line.qty,
            unit_price=line.unit_price,
            amount=amount,
            category=category,
            self_pay_full=amount,
            over_limit=ZERO2,
            pre_self_pay=ZERO2,
            in_scope=ZERO2,
            reason=reason,
        )

    assert item is not None
    cap = item.price_cap
    # Under its cap (or with none) the line's capped amount is its amount: the same product
    # rounded the same way, not computed twice (a line of most encounters).
    capped = amount if cap is None or line.unit_price <= cap else round2(line.qty * cap)
    over_limit = amount - capped
    pre_self_pay = round2(capped * item.self_pay_ratio) if item.category == "B" else ZERO2
    return ItemResult(
        line_no=line.line_no,
        code=line.code,
        name=name,
        qty=line.qty,
        unit_price=line.unit_price,
        amount=amount,
        category=category,
        self_pay_full=ZERO2,
        over_limit=over_limit,
        pre_self_pay=pre_self_pay,
        in_scope=capped - pre_self_pay,
        reason=None,
    )
