"""Request and response models of reference data: regions, institutions, catalog, policies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.kit.types import Day, MedType, MoneyIn, PriceIn, RatioDeltaIn, RatioIn, RatioOut, RegionCode, Text

InstitutionKind = Literal["hospital", "community", "pharmacy"]
AidCategory = Literal["extreme_poverty", "minimum_living", "registered_poor", "low_income"]
Name = Annotated[Text, Field(min_length=1, max_length=200)]
Group = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")]
DiseaseCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9.]{1,32}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- regions


class RegionIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"name": "东莞市"}})
    name: Name


class RegionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"code": "441900", "name": "东莞市", "updated_at": "2026-01-01T08:00:00+08:00"}}
    )
    code: str
    name: str
    updated_at: dt.datetime


# ---------------------------------------------------------------- institutions


class InstitutionIn(Strict):
    """A designated institution 定点医药机构. Community institutions are level 1; pharmacies have none."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"name": "东莞市人民医院", "kind": "hospital", "level": 3, "region": "441900", "active": True}
        },
    )
    name: Name
    kind: InstitutionKind
    level: int | None = Field(default=None, ge=1, le=3, description="1–3 for hospitals; 1 (or absent) for community")
    region: RegionCode
    active: bool = True

    @model_validator(mode="after")
    def _level_matches_kind(self) -> InstitutionIn:
        if self.kind == "hospital" and self.level is None:
            raise ValueError("a hospital needs a level (1, 2 or 3)")
        if self.kind == "community":
            if self.level not in (None, 1):
                raise ValueError("a community institution is level 1")
            self.level = 1
        if self.kind == "pharmacy" and self.level is not None:
            raise ValueError("a pharmacy has no level")
        return self


class InstitutionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "code": "H44190000001",
                "name": "东莞市人民医院",
                "kind": "hospital",
                "level": 3,
                "region": "441900",
                "active": True,
                "updated_at": "2026-01-01T08:00:00+08:00",
            }
        }
    )
    code: str
    name: str
    kind: str
    level: int | None
    region: str
    active: bool
    updated_at: dt.datetime


# ---------------------------------------------------------------- catalog


class Restriction(Strict):
    """限定支付范围: every named condition must hold for the item to be covered."""

    med_types: list[MedType] | None = Field(default=None, min_length=1, description="allowed encounter types")
    diagnoses: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9.]{1,16}$")]] | None = Field(
        default=None, min_length=1, description="ICD-10 code prefixes; one diagnosis must match"
    )
    special_diseases: list[DiseaseCode] | None = Field(
        default=None, min_length=1, description="only in a 14 encounter for one of these diseases"
    )
    min_level: int | None = Field(default=None, ge=1, le=3, description="institution level at least this")

    @model_validator(mode="after")
    def _not_empty(self) -> Restriction:
        if not any(v is not None for v in (self.med_types, self.diagnoses, self.special_diseases, self.min_level)):
            raise ValueError("a restriction names at least one condition")
        return self


class CatalogItemIn(Strict):
    """A catalog item 医保目录条目: category A 甲类, B 乙类, C 丙类."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "name": "吉非替尼片",
                "category": "B",
                "self_pay_ratio": "0.10",
                "price_cap": "2.000000",
                "restriction": {"diagnoses": ["C34"], "min_level": 2},
            }
        },
    )
    name: Name
    category: Literal["A", "B", "C"]
    self_pay_ratio: RatioIn = Field(default=Decimal("0"), description="先行自付比例, category B only")
    price_cap: PriceIn | None = Field(default=None, description="最高限价 per unit")
    restriction: Restriction | None = None

    @model_validator(mode="after")
    def _ratio_only_for_b(self) -> CatalogItemIn:
        if self.category != "B" and self.self_pay_ratio != 0:
            raise ValueError("self_pay_ratio applies to category B only")
        return self


ItemCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-]{1,64}$", examples=["XL01XEG001A001010100"])]


class CatalogBulkItem(CatalogItemIn):
    model_config = ConfigDict(extra="forbid")
    code: ItemCode


class CatalogBulkIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "items": [
                    {"code": "XL01XEG001A001010100", "name": "吉非替尼片", "category": "B", "self_pay_ratio": "0.10"},
                    {"code": "001102000010000", "name": "床位费", "category": "A", "price_cap": "60"},
                ]
            }
        },
    )
    items: list[CatalogBulkItem] = Field(min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _unique_codes(self) -> CatalogBulkIn:
        codes = [i.code for i in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError("item codes must be unique within the request")
        return self


class CatalogItemOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "region": "000000",
                "code": "XL01XEG001A001010100",
                "name": "吉非替尼片",
                "category": "B",
                "self_pay_ratio": "0.1000",
                "price_cap": "2.000000",
                "restriction": {"diagnoses": ["C34"], "min_level": 2},
                "updated_at": "2026-01-01T08:00:00+08:00",
            }
        }
    )
    region: str
    code: str
    name: str
    category: str
    self_pay_ratio: RatioOut
    price_cap: RatioOut | None
    restriction: dict | None
    updated_at: dt.datetime


class CatalogBulkOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"region": "000000", "count": 2}})
    region: str
    count: int = Field(description="items written (created or replaced)")


# ---------------------------------------------------------------- policies 待遇政策

TierKey = Annotated[str, Field(pattern=r"^[1-9][0-9]?$", description="contribution tier 缴费档次")]
#: A single amount, or a map from contribution tier 缴费档次 to amount (policy.md, tiers).
TieredMoney = Annotated[
    MoneyIn | dict[TierKey, MoneyIn],
    Field(description='an amount, or a map from contribution tier to amount, e.g. `{"1": "1500", "2": "3000"}`'),
]
InstitutionCodeStr = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]


class InstitutionForm(Strict):
    """One of `{"min_level": n}`, `{"kinds": [...]}`, `{"institutions": [codes]}` — never combined."""

    min_level: int | None = Field(default=None, ge=1, le=3, description="hospitals or community institutions of at least this level")
    kinds: list[InstitutionKind] | None = Field(default=None, min_length=1)
    institutions: list[InstitutionCodeStr] | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_form(self) -> InstitutionForm:
        given = [name for name in ("min_level", "kinds", "institutions") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("exactly one of min_level, kinds, institutions (forms may not be combined)")
        return self


InstitutionRuleDoc = Literal["any"] | InstitutionForm


class BasicRule(Strict):
    med_type: MedType
    kind: InstitutionKind | None = None
    level: int | None = Field(default=None, ge=1, le=3)
    ratio: RatioIn
    deductible: MoneyIn
    deductible_scope: Literal["per_encounter", "annual"]
    deductible_group: Group | None = None
    annual_limit: TieredMoney | None = None
    limit_group: Group | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BasicRule:
        if self.deductible_scope == "annual" and self.deductible_group is None:
            raise ValueError("an annual deductible needs a deductible_group")
        if self.annual_limit is not None and self.limit_group is None:
            raise ValueError("an annual_limit needs a limit_group")
        if self.kind == "pharmacy" and self.level is not None:
            raise ValueError("a pharmacy has no level: this rule could never match")
        if self.kind == "community" and self.level not in (None, 1):
            raise ValueError("a community institution is level 1: this rule could never match")
        return self


class Basic(Strict):
    annual_cap: TieredMoney
    retired_bonus: RatioIn = Decimal("0")
    downward_referral_bonus: RatioIn = Decimal("0")
    rules: list[BasicRule] = Field(min_length=1)


class SpecialDisease(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: Name
    class_: int = Field(alias="class", ge=1, le=2)
    annual_limit: TieredMoney | None = None
    ratio: RatioIn | None = None
    certified_by: InstitutionRuleDoc = Field(default="any", description="who may certify (make a registration)")
    treated_by: InstitutionRuleDoc = Field(default="any", description="which sites may treat it")
    aid_categories: list[AidCategory] | None = Field(
        default=None, min_length=1, description="open only to persons of these aid categories"
    )
    diagnoses: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9.]{1,16}$")]] | None = Field(
        default=None, max_length=100, description="ICD-10 prefixes that evidence the disease (active screening)"
    )


class SpecialDiseaseSites(Strict):
    max_sites: int = Field(ge=1, le=10)
    require_community: bool = False
    all_sites_if_supplementary: bool = False


class CrossRegionBlock(Strict):
    filed_ratio_delta: RatioDeltaIn = Decimal("0")
    unfiled: Literal["reject", "ratio_delta"]
    unfiled_ratio_delta: RatioDeltaIn | None = None
    cross_province_outpatient: bool = False

    @model_validator(mode="after")
    def _delta_when_needed(self) -> CrossRegionBlock:
        if self.unfiled == "ratio_delta" and self.unfiled_ratio_delta is None:
            raise ValueError("unfiled ratio_delta needs unfiled_ratio_delta")
        return self


class Segment(Strict):
    up_to: MoneyIn | None
    ratio: RatioIn


class Tilt(Strict):
    categories: list[AidCategory] = Field(min_length=1)
    deductible_factor: RatioIn = Decimal("1")
    ratio_bonus: RatioIn = Decimal("0")
    no_cap: bool = False


class CriticalIllness(Strict):
    med_types: list[MedType] = Field(min_length=1)
    deductible: MoneyIn
    segments: list[Segment] = Field(min_length=1)
    annual_cap: MoneyIn | None = None
    tilt: Tilt | None = None

    @model_validator(mode="after")
    def _segments_ordered(self) -> CriticalIllness:
        previous: Decimal | None = None
        for index, segment in enumerate(self.segments):
            last = index == len(self.segments) - 1
            if segment.up_to is None:
                if not last:
                    raise ValueError("only the last segment may have up_to null")
                continue
            if previous is not None and segment.up_to <= previous:
                raise ValueError("segments must be ordered by increasing up_to")
            previous = segment.up_to
        return self


class AidRule(Strict):
    threshold: MoneyIn = Decimal("0")
    ratio: RatioIn
    annual_cap: MoneyIn | None = None


class MedicalAid(Strict):
    med_types: list[MedType] = Field(min_length=1)
    categories: dict[AidCategory, AidRule] = Field(min_length=1)


class Fallback(Strict):
    categories: list[AidCategory] = Field(min_length=1)
    med_types: list[MedType] = Field(min_length=1)
    max_personal_share: RatioIn
    same_region_only: bool = False


SecondaryAidScope = Literal["inpatient", "community_outpatient", "special_outpatient", "pharmacy"]


class SecondaryAidRule(Strict):
    threshold: MoneyIn = Decimal("0")
    ratio: RatioIn
    scopes: list[SecondaryAidScope] = Field(min_length=1)


class SecondaryAid(Strict):
    annual_cap: MoneyIn | None = None
    categories: dict[AidCategory, SecondaryAidRule] = Field(min_length=1)


# Institution profiles a rule can meet: (kind, level).
INSTITUTION_PROFILES: tuple[tuple[str, int | None], ...] = (
    ("hospital", 1),
    ("hospital", 2),
    ("hospital", 3),
    ("community", 1),
    ("pharmacy", None),
)


def tier_key_sets(doc: "PolicyDocument") -> list[tuple[list[str | int], frozenset[str]]]:
    """Every tier map of the document with where it is: their key sets must all be equal."""
    found: list[tuple[list[str | int], frozenset[str]]] = []
    if isinstance(doc.basic.annual_cap, dict):
        found.append((["basic", "annual_cap"], frozenset(doc.basic.annual_cap)))
    for index, rule in enumerate(doc.basic.rules):
        if isinstance(rule.annual_limit, dict):
            found.append((["basic", "rules", index, "annual_limit"], frozenset(rule.annual_limit)))
    for code, disease in (doc.special_diseases or {}).items():
        if isinstance(disease.annual_limit, dict):
            found.append((["special_diseases", code, "annual_limit"], frozenset(disease.annual_limit)))
    return found


def ambiguous_rules(rules: list[BasicRule]) -> list[tuple[int, int, str, str, int | None]]:
    """Pairs of equally specific rules that both win for some (med_type, kind, level)."""
    found: set[tuple[int, int, str, str, int | None]] = set()
    for med_type in sorted({r.med_type for r in rules}):
        for kind, level in INSTITUTION_PROFILES:
            matches = [
                (i, r)
                for i, r in enumerate(rules)
                if r.med_type == med_type
                and (r.kind is None or r.kind == kind)
                and (r.level is None or r.level == level)
            ]
            if not matches:
                continue
            best = max((r.kind is not None) + (r.level is not None) for _, r in matches)
            winners = [i for i, r in matches if (r.kind is not None) + (r.level is not None) == best]
            for a, b in zip(winners, winners[1:]):
                found.add((a, b, med_type, kind, level))
    return sorted(found, key=lambda t: (t[0], t[1], t[2], t[3]))


POLICY_EXAMPLE = {
    "region": "441900",
    "insutype": "390",
    "effective_from": "2026-01-01",
    "name": "东莞市城乡居民基本医疗保险待遇",
    "basic": {
        "annual_cap": "400000",
        "retired_bonus": "0",
        "downward_referral_bonus": "0.05",
        "rules": [
            {"med_type": "21", "kind": "hospital", "level": 3, "ratio": "0.70", "deductible": "1000",
             "deductible_scope": "per_encounter"},
            {"med_type": "11", "kind": "community", "ratio": "0.60", "deductible": "100", "deductible_scope": "annual",
             "deductible_group": "outpatient", "annual_limit": "1000", "limit_group": "general_outpatient"},
        ],
    },
    "special_diseases": {"M03900": {"name": "高血压", "class": 2, "annual_limit": "2000"}},
    "special_disease_sites": {"max_sites": 1, "require_community": False, "all_sites_if_supplementary": True},
    "cross_region": {"filed_ratio_delta": "0", "unfiled": "ratio_delta", "unfiled_ratio_delta": "-0.10",
                     "cross_province_outpatient": True},
    "critical_illness": {"med_types": ["21", "14"], "deductible": "15000",
                         "segments": [{"up_to": "100000", "ratio": "0.60"}, {"up_to": None, "ratio": "0.70"}],
                         "annual_cap": "400000", "tilt": None},
    "medical_aid": None,
    "fallback": None,
    "secondary_aid": None,
}  # fmt: skip


class PolicyDocument(Strict):
    """The policy document 待遇政策 of policy.md. ``null`` or an absent block: the layer does not exist."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": POLICY_EXAMPLE})

    region: RegionCode | None = Field(default=None, description="filled from the path when absent")
    insutype: Literal["310", "390"] | None = Field(default=None, description="filled from the path when absent")
    effective_from: Day | None = Field(default=None, description="filled from the path when absent")
    name: Name
    basic: Basic
    special_diseases: dict[DiseaseCode, SpecialDisease] | None = None
    special_disease_sites: SpecialDiseaseSites | None = None
    cross_region: CrossRegionBlock | None = None
    critical_illness: CriticalIllness | None = None
    medical_aid: MedicalAid | None = None
    fallback: Fallback | None = None
    secondary_aid: SecondaryAid | None = None


class PolicyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "region": "441900",
                "insutype": "390",
                "effective_from": "2026-01-01",
                "revision": 1,
                "in_use": False,
                "updated_at": "2026-01-01T08:00:00+08:00",
                "document": POLICY_EXAMPLE,
            }
        }
    )
    region: str
    insutype: str
    effective_from: dt.date
    revision: int
    in_use: bool
    updated_at: dt.datetime
    document: PolicyDocument
