"""Immutable inputs and outputs of the settlement calculation.

Everything here is a frozen dataclass holding `Decimal` money; nothing does I/O.
The service builds these from database rows and request bodies, calls
`app.engine.settle.settle`, and maps the result back to rows and JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from app.engine.records import replaces_init, slot_setters

ZERO = Decimal("0")

# Institution kinds 定点医药机构类型
HOSPITAL = "hospital"
COMMUNITY = "community"  # 社区/基层 (township health centre); always level 1
PHARMACY = "pharmacy"  # 定点零售药店; no level

# Encounter types 医疗类别 (national med_type codes)
GENERAL_OUTPATIENT = "11"  # 普通门诊
SPECIAL_OUTPATIENT = "14"  # 门诊慢特病 / 门诊特定病种
INPATIENT = "21"  # 普通住院
PHARMACY_PURCHASE = "41"  # 定点药店购药
OUTPATIENT_MED_TYPES = frozenset({GENERAL_OUTPATIENT, SPECIAL_OUTPATIENT, PHARMACY_PURCHASE})

EMPLOYEE = "310"  # 职工基本医疗保险
RESIDENT = "390"  # 城乡居民基本医疗保险


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True, slots=True)
class Institution:
    """定点医药机构."""

    code: str
    kind: str  # hospital | community | pharmacy
    level: int | None  # 1..3; community 1; pharmacy None
    region: str  # 6-digit admdvs
    active: bool = True


@dataclass(frozen=True, slots=True)
class Restriction:
    """限定支付范围: every named test must pass for the line to be covered."""

    med_types: tuple[str, ...] | None = None
    diagnoses: tuple[str, ...] | None = None  # ICD-10 prefixes
    special_diseases: tuple[str, ...] | None = None
    min_level: int | None = None


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """医保目录 item as found in the treatment place's catalog chain."""

    code: str
    name: str
    category: str  # A 甲类 | B 乙类 | C 丙类
    self_pay_ratio: Decimal = ZERO  # 先行自付比例 (B only)
    price_cap: Decimal | None = None  # 最高限价 per unit
    restriction: Restriction | None = None
    region: str = "000000"  # the catalog the item was found in


# --------------------------------------------------------------------------- policy 待遇政策


@dataclass(frozen=True, slots=True)
class Tiered:
    """An amount that depends on the contribution tier 缴费档次 (policy.md, tiers): tier → amount.

    It never reaches the calculation: `app.engine.tiers.resolve_policy_for_tier` replaces
    every tiered amount the encounter needs by the person's tier's amount first.
    """

    amounts: Mapping[int, Decimal]


@dataclass(frozen=True, slots=True)
class InstitutionRule:
    """`certified_by` / `treated_by` of a special disease: which institutions qualify.

    At most one form is set (the policy document refuses combinations); none set is "any".
    `min_level`: hospitals or community institutions (level 1) of at least that level.
    """

    min_level: int | None = None
    kinds: tuple[str, ...] | None = None
    institutions: tuple[str, ...] | None = None

    def admits(self, institution: "Institution") -> bool:
        if self.min_level is not None:
            return institution.kind in (HOSPITAL, COMMUNITY) and (institution.level or 0) >= self.min_level
        if self.kinds is not None:
            return institution.kind in self.kinds
        if self.institutions is not None:
            return institution.code in self.institutions
        return True


@dataclass(frozen=True, slots=True)
class BasicRule:
    med_type: str
    ratio: Decimal
    deductible: Decimal
    deductible_scope: str  # per_encounter | annual
    kind: str | None = None
    level: int | None = None
    deductible_group: str | None = None
    annual_limit: Decimal | Tiered | None = None
    limit_group: str | None = None


@dataclass(frozen=True, slots=True)
class BasicInsurance:
    """基本医疗保险统筹基金."""

    annual_cap: Decimal | Tiered
    rules: tuple[BasicRule, ...]
    retired_bonus: Decimal = ZERO
    downward_referral_bonus: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class SpecialDisease:
    """门诊特定病种 as listed by the policy."""

    code: str
    name: str
    disease_class: int | None = None
    annual_limit: Decimal | Tiered | None = None
    ratio: Decimal | None = None
    certified_by: InstitutionRule | None = None  # None: any designated medical institution
    treated_by: InstitutionRule | None = None  # None: any site the registration names
    aid_categories: tuple[str, ...] | None = None  # None: open to every person
    diagnoses: tuple[str, ...] = ()  # ICD-10 prefixes that evidence it (active screening)


@dataclass(frozen=True, slots=True)
class SpecialDiseaseSites:
    """选点 rule (Zhongshan)."""

    max_sites: int = 1
    require_community: bool = False
    all_sites_if_supplementary: bool = False


@dataclass(frozen=True, slots=True)
class CrossRegion:
    """异地就医."""

    filed_ratio_delta: Decimal = ZERO
    unfiled: str = "ratio_delta"  # reject | ratio_delta
    unfiled_ratio_delta: Decimal = ZERO
    cross_province_outpatient: bool = False


@dataclass(frozen=True, slots=True)
class Segment:
    up_to: Decimal | None  # None = no upper bound
    ratio: Decimal


@dataclass(frozen=True, slots=True)
class Tilt:
    """倾斜: 起付线减半, 比例提高, 取消封顶线 for the listed aid categories."""

    categories: tuple[str, ...]
    deductible_factor: Decimal = Decimal("1")
    ratio_bonus: Decimal = ZERO
    no_cap: bool = False


@dataclass(frozen=True, slots=True)
class CriticalIllness:
    """大病保险 (390) / 职工大额医疗费用补助 (310)."""

    med_types: tuple[str, ...]
    deductible: Decimal
    segments: tuple[Segment, ...]
    annual_cap: Decimal | None = None
    tilt: Tilt | None = None


@dataclass(frozen=True, slots=True)
class AidCategory:
    threshold: Decimal
    ratio: Decimal
    annual_cap: Decimal | None = None  # None: no cap


@dataclass(frozen=True, slots=True)
class MedicalAid:
    """医疗救助 (一次救助)."""

    med_types: tuple[str, ...]
    categories: Mapping[str, AidCategory]


@dataclass(frozen=True, slots=True)
class Fallback:
    """兜底: personal share of in-policy costs held to at most max_personal_share."""

    categories: tuple[str, ...]
    med_types: tuple[str, ...]
    max_personal_share: Decimal
    same_region_only: bool = True


@dataclass(frozen=True, slots=True)
class SecondaryAidCategory:
    threshold: Decimal
    ratio: Decimal
    scopes: tuple[str, ...]  # inpatient | community_outpatient | special_outpatient | pharmacy


@dataclass(frozen=True, slots=True)
class SecondaryAid:
    """二次医疗救助 (Dongguan, seed 001)."""

    categories: Mapping[str, SecondaryAidCategory]
    annual_cap: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    region: str
    insutype: str
    effective_from: dt.date
    basic: BasicInsurance
    name: str = ""
    special_diseases: Mapping[str, SpecialDisease] = field(default_factory=dict)
    special_disease_sites: SpecialDiseaseSites | None = None
    cross_region: CrossRegion | None = None
    critical_illness: CriticalIllness | None = None
    medical_aid: MedicalAid | None = None
    fallback: Fallback | None = None
    secondary_aid: SecondaryAid | None = None
    #: The tiers its tiered amounts name (all maps have the same keys); () = no tiered amount.
    tiers: tuple[int, ...] = ()

    @property
    def version(self) -> str:
        """`441900/390/2026-01-01`, as shown on a settlement."""
        return f"{self.region}/{self.insutype}/{self.effective_from.isoformat()}"


# --------------------------------------------------------------------------- the person


@dataclass(frozen=True, slots=True)
class Enrollment:
    """参保: valid_to None means open-ended."""

    insutype: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    tier: int | None = None  # 缴费档次; None: no tier

    def active_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Person:
    """参保人."""

    person_id: str
    insured_region: str
    enrollments: tuple[Enrollment, ...]
    retired: bool = False
    supplementary: bool = False
    aid_category: str | None = None
    account_balance: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class SpecialDiseaseRegistration:
    """门诊特定病种认定 with the chosen sites 选点 (sites None = open to all sites)."""

    disease_code: str
    valid_from: dt.date
    valid_to: dt.date
    sites: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class CrossRegionFiling:
    """异地就医备案: region may be a province code XX0000."""

    region: str
    valid_from: dt.date
    valid_to: dt.date


@dataclass(frozen=True, slots=True)
class Referral:
    """转诊转院备案."""

    person_id: str
    to_institution: str
    direction: str  # downward | upward | same
    valid_from: dt.date
    valid_to: dt.date
    origin_deductible: Decimal = ZERO  # 起付线 paid in the referring settlement
    consumed: bool = False


# --------------------------------------------------------------------------- accumulators


ACCUMULATOR_SCALARS = (
    "basic_paid",
    "ci_base",
    "ci_paid",
    "aid_base",
    "aid_paid",
    "sa_base",
    "sa_paid",
)
ACCOUNT_BALANCE = "account_balance"  # delta name for the personal account


@dataclass(frozen=True, slots=True)
class Accumulators:
    """The person's figures for one accumulation year (累计信息).

    `values` is keyed by accumulator name: the scalars of ACCUMULATOR_SCALARS and
    the grouped ones `deductible:<group>`, `limit:<group>`, `disease:<code>`.
    Absent names are zero.
    """

    values: Mapping[str, Decimal] = field(default_factory=dict)

    def get(self, name: str) -> Decimal:
        return self.values.get(name, ZERO)

    def plus(self, deltas: Mapping[str, Decimal]) -> "Accumulators":
        merged = dict(self.values)
        for name, amount in deltas.items():
            if name == ACCOUNT_BALANCE:
                continue
            merged[name] = merged.get(name, ZERO) + amount
        return Accumulators(merged)


# --------------------------------------------------------------------------- the encounter


@dataclass(frozen=True, slots=True)
class FeeLine:
    line_no: int
    code: str
    qty: Decimal
    unit_price: Decimal
    name: str | None = None


# A fee line and its item result are built once a line: their __init__ is hand-written
# (app/engine/records.py says why and checks it against the fields).
_LINE_NO, _CODE, _QTY, _UNIT_PRICE, _NAME = slot_setters(FeeLine)


@replaces_init(FeeLine)
def _fee_line_init(
    self: FeeLine, line_no: int, code: str, qty: Decimal, unit_price: Decimal, name: str | None = None
) -> None:
    _LINE_NO(self, line_no)
    _CODE(self, code)
    _QTY(self, qty)
    _UNIT_PRICE(self, unit_price)
    _NAME(self, name)


@dataclass(frozen=True, slots=True)
class Encounter:
    med_type: str
    encounter_date: dt.date  # visit date, or discharge date for inpatient
    lines: tuple[FeeLine, ...]
    insutype: str | None = None  # None: the person's only active enrollment
    diagnoses: tuple[str, ...] = ()
    special_disease: str | None = None
    use_personal_account: bool = True
    has_referral: bool = False  # the request named a referral (must then be valid)


@dataclass(frozen=True, slots=True)
class SettlementContext:
    """Everything the calculation reads besides the encounter.

    `catalog` maps each line's code to the item found in the treatment place's
    catalog chain (region, province, national), or None when not in the catalog.
    `policy` is the insured region's version in force, or None (no_policy).
    """

    person: Person
    institution: Institution
    policy: Policy | None
    catalog: Mapping[str, CatalogItem | None]
    accumulators: Accumulators = field(default_factory=Accumulators)
    registrations: tuple[SpecialDiseaseRegistration, ...] = ()
    filings: tuple[CrossRegionFiling, ...] = ()
    referral: Referral | None = None


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Refusal:
    """A rule refusal returned as a value; the service maps `code` to HTTP 422."""

    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class ItemResult:
    line_no: int
    code: str
    name: str | None
    qty: Decimal
    unit_price: Decimal
    amount: Decimal
    category: str | None
    self_pay_full: Decimal  # 全自费
    over_limit: Decimal  # 超限价自付
    pre_self_pay: Decimal  # 先行自付
    in_scope: Decimal  # 符合政策范围
    reason: str | None  # not_in_catalog | category_c | restricted


(
    _I_LINE_NO, _I_CODE, _I_NAME, _I_QTY, _I_UNIT_PRICE, _I_AMOUNT, _I_CATEGORY,
    _I_SELF_PAY_FULL, _I_OVER_LIMIT, _I_PRE_SELF_PAY, _I_IN_SCOPE, _I_REASON,
) = slot_setters(ItemResult)  # fmt: skip


@replaces_init(ItemResult)
def _item_result_init(
    self: ItemResult, line_no: int, code: str, name: str | None, qty: Decimal, unit_price: Decimal,
    amount: Decimal, category: str | None, self_pay_full: Decimal, over_limit: Decimal,
    pre_self_pay: Decimal, in_scope: Decimal, reason: str | None,
) -> None:  # fmt: skip
    _I_LINE_NO(self, line_no)
    _I_CODE(self, code)
    _I_NAME(self, name)
    _I_QTY(self, qty)
    _I_UNIT_PRICE(self, unit_price)
    _I_AMOUNT(self, amount)
    _I_CATEGORY(self, category)
    _I_SELF_PAY_FULL(self, self_pay_full)
    _I_OVER_LIMIT(self, over_limit)
    _I_PRE_SELF_PAY(self, pre_self_pay)
    _I_IN_SCOPE(self, in_scope)
    _I_REASON(self, reason)


@dataclass(frozen=True, slots=True)
class Totals:
    total: Decimal
    self_pay_full: Decimal
    over_limit: Decimal
    pre_self_pay: Decimal
    in_scope: Decimal
    deductible: Decimal
    pool_self_pay: Decimal
    over_cap: Decimal
    basic_fund: Decimal
    critical_illness: Decimal
    medical_aid: Decimal
    fallback: Decimal
    secondary_aid: Decimal
    fund_total: Decimal
    personal_total: Decimal
    personal_account: Decimal
    cash: Decimal


TOTAL_FIELDS = tuple(Totals.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class FundLine:
    """One paying layer: fund name, national fund code, its base and why."""

    fund: str  # basic | critical_illness | medical_aid | fallback | secondary_aid | personal_account
    fund_pay_type: str
    amount: Decimal
    basis: Decimal
    explanation: str


@dataclass(frozen=True, slots=True)
class Settlement:
    """The itemised result and the accumulator deltas it implies."""

    insutype: str
    med_type: str
    accumulation_year: int
    policy_version: str
    cross_region: bool
    items: tuple[ItemResult, ...]
    totals: Totals
    funds: tuple[FundLine, ...]
    deltas: Mapping[str, Decimal]  # accumulator name -> change; 'account_balance' too
