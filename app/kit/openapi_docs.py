"""The OpenAPI document's glossary: a description (English, with the Chinese term) for every
schema property that its model does not describe itself, and the code tables as enums.

Why here and not as ``Field(description=…)`` in every schemas.py: one word means one thing
across the API (``person_id`` is the same psn_no in twelve schemas), so it is written once;
and the domain schemas stay free for their owners to edit. A description a model gives
itself always wins; `tests/service/test_openapi_docs.py` fails when a property has none at all.
"""

from __future__ import annotations

from typing import Any

#: Code tables 代码表 (national-interface.md "Codes"; settlement.md): code → meaning.
CODE_TABLES: dict[str, dict[str, str]] = {
    "med_type": {"11": "普通门诊 general outpatient", "14": "门诊慢特病 special/chronic-disease outpatient",
                 "21": "普通住院 inpatient", "41": "定点药店购药 pharmacy purchase"},
    "insutype": {"310": "职工基本医疗保险 employee basic insurance",
                 "390": "城乡居民基本医疗保险 urban and rural resident basic insurance"},
    "aid_category": {"extreme_poverty": "特困供养人员 persons in extreme poverty",
                     "minimum_living": "最低生活保障对象 (低保) minimum-living-allowance recipients",
                     "registered_poor": "建档立卡贫困人员 registered poor households",
                     "low_income": "低收入救助对象 low-income aid recipients"},
    "institution_kind": {"hospital": "医院 hospital (level 1–3)", "community": "社区卫生服务机构 community health centre (level 1)",
                         "pharmacy": "定点零售药店 designated pharmacy (no level)"},
    "fund": {"basic": "统筹基金 basic pooled fund (310100 / 390100)",
             "critical_illness": "大病保险 / 职工大额补助 critical-illness insurance (390200 / 330100)",
             "medical_aid": "医疗救助 medical aid (610100)", "fallback": "兜底保障 fallback (999997 其他基金)",
             "secondary_aid": "二次救助 secondary aid (610102 医疗再救助)",
             "personal_account": "个人账户 personal account (310200)"},
    "fund_pay_type": {"310100": "职工基本医疗保险统筹基金", "310200": "职工个人账户", "330100": "职工大额医疗费用补助",
                      "390100": "城乡居民基本医疗保险基金", "390200": "城乡居民大病保险", "610100": "医疗救助",
                      "610102": "医疗再救助 (二次救助)", "999997": "其他基金 (兜底)"},
    "category": {"A": "甲类 class A: fully in scope", "B": "乙类 class B: in scope after a pre-self-pay share",
                 "C": "丙类 class C: full self-pay"},
}  # fmt: skip

#: Which properties hold which code table (by property name; the schema may narrow it).
CODED = {"med_type": "med_type", "insutype": "insutype", "aid_category": "aid_category", "fund": "fund",
         "fund_pay_type": "fund_pay_type", "category": "category"}  # fmt: skip
CODED_IN = {("InstitutionIn", "kind"): "institution_kind", ("InstitutionOut", "kind"): "institution_kind"}


def _codes(table: str) -> str:
    return "; ".join(f"`{code}` {meaning}" for code, meaning in CODE_TABLES[table].items())


GLOSSARY: dict[str, str] = {
    # policy simulations 数据测算 (api.md)
    'baseline': 'Under the policies that settled them 基线 (the baseline replay), yuan',
    'draft': 'Under the draft policy 测算方案, yuan',
    'difference': 'Draft − baseline 差额, yuan',
    'percent': 'Difference ÷ baseline × 100 变化率 (null when the baseline is 0)',
    'deciles_baseline': 'Personal burden per person, 10th…90th percentiles 个人负担十分位 (baseline)',
    'deciles_draft': 'Personal burden per person, 10th…90th percentiles 个人负担十分位 (draft)',
    'simulation_id': 'Simulation id 测算编号',
    'baseline_mismatches': 'Stored settlements the baseline did not reproduce to the cent 基线不符笔数 (0 expected)',
    'draft_refusals': 'Replayed settlements the draft refuses 测算拒付笔数',
    'by_med_type': 'Baseline and draft per medical category and fund 按医疗类别',
    'by_aid_category': 'Baseline and draft per aid category and fund 按救助类别',
    'by_institution_level': 'Baseline and draft per institution level and fund 按机构等级',
    'personal_burden': 'Personal burden 个人负担 (account + cash): totals and deciles',
    'top_changes': "The 100 largest changes in a person's burden 负担变化最大的人员",
    'caps_hit': 'Persons ending at a cap 达到封顶人数, baseline and draft',
    'progress': 'Progress 进度, replayed ÷ total, 0 to 1',
    'replayed': 'Settlements replayed so far 已回放笔数',
    'error': 'Why it failed 失败原因, or null',
    # reconciliation 对账 and reports (api.md)
    'medfee_sumamt': 'Total medical fees 医疗费总额 (totals.total), yuan',
    'fund_pay_sumamt': 'Fund payment total 基金支付总额 (every fund layer, not the personal account), yuan',
    'acct_pay': 'Personal account payment 个人账户支付金额, yuan',
    'fund_name': "The fund's Chinese name 基金名称",
    'persons': 'Number of persons 人数',
    'settlements': 'Number of settlements 结算笔数',
    'summary': 'Counts of the comparison 对账汇总',
    'differences': 'Every record that differs 对账差异明细',
    'institution_records': "Records in the institution's file 医药机构记录数",
    'center_records': 'Records at the centre 中心记录数',
    'matched': 'Records on both sides with equal amounts 对平笔数',
    'only_center': 'Records only at the centre 中心多',
    'only_institution': "Records only in the institution's file 医药机构多",
    'amounts_differ': 'Records on both sides whose amounts differ 数据不一致',
    'refd_setl_flag': 'Reversal flag 退费结算标志: `0` a settlement, `1` its reversal',
    'stmt_rslt': 'Reconciliation result 对账结果: `0` 对平, `1` 中心多, `2` 医药机构多, `3` 数据不一致',
    'stmt_rslt_dscr': 'The result in words 对账结果说明',
    'center': "The centre's figures 中心数据 (null when it has no such record)",
    'institution': "The institution's figures 医药机构数据 (null when it has no such record)",
    'clr_type': 'Clearing category 清算类别: `11` outpatient (med_type 11, 14), `21` inpatient, `41` pharmacy',
    'include_reversals': 'Whether reversal records count 是否包含退费 (default true)',
    'date_from': 'First day 开始日期 (+08:00)',
    'date_to': 'Last day 结束日期 (+08:00)',
    'institution_level': 'Institution level 医疗机构等级 (1–3; null for pharmacies)',
    "account_balance": "Personal account balance 个人账户余额, yuan",
    "accumulation_year": "Accumulation year 累计年度 the settlement counts towards",
    "active": "Whether the institution may settle 是否有效; an inactive one's keys get `403 institution_inactive`",
    "admission_date": "Admission date 入院日期 (inpatient), on or before `encounter_date`",
    "aid_base": "Medical-aid in-scope base accumulated this year 医疗救助累计合规费用",
    "aid_category": "Medical-aid category 医疗救助对象类别, or null",
    "aid_paid": "Medical aid paid this year 医疗救助累计支付",
    "all_sites": "Registered for every site 全部定点 (true) or only `sites`",
    "all_sites_if_supplementary": "Persons with supplementary insurance 补充医疗保险 may use every site",
    "amount": "Amount 金额, yuan",
    "annual_cap": "Annual cap 年度封顶线, yuan (null: none)",
    "annual_limit": "Annual limit 年度限额, yuan",
    "as_of": "Date 日期 the view is for (China time)",
    "basic": "Basic insurance rules 基本医疗保险统筹",
    "basic_paid": "Basic fund paid this year 统筹基金累计支付",
    "birth_date": "Date of birth 出生日期",
    "cash": "Cash paid by the patient 现金支付 psn_cash_pay",
    "categories": "Aid categories 救助对象类别 the block applies to (with their rules)",
    "category": "Catalog class 甲乙丙类 (chrgitm_lv)",
    "certifier_code": "Institution that certified the registration 认定机构",
    "certno": "Resident ID number 公民身份号码 (18 characters, checksum-valid)",
    "ci_base": "Critical-illness in-scope base accumulated this year 大病保险累计合规费用",
    "ci_paid": "Critical-illness insurance paid this year 大病保险累计支付",
    "class": "Special-disease class 病种类别 (1: inpatient-like ratio, 2: outpatient with an annual limit)",
    "code": "Code 编码",
    "created_at": "When it was created 创建时间 (RFC 3339)",
    "critical_illness": "Critical-illness insurance 大病保险 block, or null",
    "cross_province_outpatient": "Cross-province outpatient settlement allowed 跨省门诊直接结算",
    "cross_region": "Cross-region rules 异地就医",
    "ctx": "Validation context 校验上下文",
    "deductible": "Deductible 起付线, yuan",
    "deductible_factor": "Factor applied to the deductible 起付线系数 for tilted categories",
    "deductible_group": "Group whose annual deductible the rule shares 起付线累计组",
    "deductible_scope": "`per_encounter` 每次 or `annual` 年度 deductible",
    "detail": "Human-readable explanation 详细说明 (never personal data)",
    "diagnoses": "Diagnosis codes 诊断 (ICD-10), main first",
    "disease": "Special-disease amounts this year 慢特病累计, by disease code",
    "disease_code": "Special-disease code 门诊慢特病病种编码 (M + 5 digits)",
    "document": "The policy document 待遇政策",
    "downward_referral_bonus": "Ratio bonus after a downward referral 下转加成",
    "e_voucher_code": "E-voucher code 医保电子凭证 scanned from the patient's app (instead of person_id)",
    "effective_from": "First day in force 生效日期",
    "encounter_date": "Visit date, or discharge date for inpatient 就诊/出院日期",
    "encounter_id": "The institution's encounter number 就诊ID (mdtrt_id), unique per live settlement",
    "enrollments": "Enrollments 参保信息",
    "errors": "Field errors 字段错误: `{loc, msg}`",
    "explanation": "One line naming the rule and its figures 结算过程说明 (setl_proc_info)",
    "fallback": "Fallback 兜底保障 block, or null",
    "filed_ratio_delta": "Ratio change with a cross-region filing 备案后比例调整",
    "filing_id": "Cross-region filing id 异地就医备案ID",
    "from_institution": "Referring institution 转出机构",
    "fund": "Fund layer 基金",
    "fund_pay_type": "National fund code 基金支付类型",
    "fund_total": "All funds together 基金支付总额 fund_pay_sumamt",
    "funds": "Per-fund payments 基金支付明细 (setldetail)",
    "gender": "Gender 性别: `male` 男 or `female` 女",
    "in_scope": "In-scope amount 符合政策范围金额 inscp_scp_amt",
    "in_use": "Used by a settlement 已被结算使用 (then it can no longer be replaced)",
    "input": "The rejected input value 输入值",
    "institution_code": "Designated institution code 定点医药机构编号",
    "insured_region": "Insured region 参保地 (6 digits)",
    "insutype": "Insurance type 险种类型",
    "items": "Items 明细",
    "key_id": "API key id 密钥ID",
    "kind": "Kind 类型",
    "level": "Hospital level 医院等级 (1–3)",
    "limit": "Annual limits used this year 限额累计, by group",
    "limit_group": "Group whose annual limit the rule shares 限额累计组",
    "line_no": "Line number 明细序号, unique within the request",
    "loc": "Where the error is 错误位置",
    "max_personal_share": "Largest personal share of the in-scope cost 个人负担比例上限",
    "max_sites": "Largest number of chosen sites 最多定点数",
    "med_type": "Medical category 医疗类别",
    "med_types": "Medical categories 医疗类别 the block applies to",
    "medical_aid": "Medical aid 医疗救助 block, or null",
    "msg": "Error message 错误信息",
    "name": "Name 名称",
    "next_cursor": "Cursor of the next page 下一页游标, null on the last",
    "no_cap": "No annual cap for tilted categories 倾斜对象不设封顶",
    "origin_settlement_id": "Settlement at the referring institution 转出结算ID (its deductible counts)",
    "over_limit": "Over the price cap 超限价自费 overlmt_selfpay",
    "person_id": "Person number 人员编号 (psn_no)",
    "policy_version": "Policy used 待遇政策版本: region/insutype/effective_from",
    "pre_self_pay": "Pre-self-pay share of class B 先行自付 preselfpay_amt",
    "price_cap": "Price cap 限价, yuan (null: none)",
    "qty": "Quantity 数量",
    "ratio": "Payment ratio 支付比例 (0–1)",
    "ratio_bonus": "Ratio bonus 比例提高 for tilted categories",
    "reason": "Why the line is not (fully) in scope 不予支付原因",
    "referral_id": "Referral 转诊转院 id",
    "region": "Region code 医保区划 (6 digits)",
    "registration_id": "Special-disease registration id 慢特病认定ID",
    "require_community": "At least one chosen site must be a community centre 须含社区定点",
    "restriction": "Restricted use 限制使用范围 (diagnoses, level, medical categories, special diseases)",
    "retired": "Retired 退休",
    "retired_bonus": "Ratio bonus for retirees 退休加成",
    "reversed_at": "When it was reversed 撤销时间 (RFC 3339), or null",
    "revision": "Revision 版本号",
    "role": "Key role 角色: `institution`, `wallet`, `ops` or `admin`",
    "rules": "Rules 支付规则",
    "sa_base": "Secondary-aid base accumulated this year 二次救助累计合规费用",
    "sa_paid": "Secondary aid paid this year 二次救助累计支付",
    "same_region_only": "Only for encounters in the insured region 仅限参保地就医",
    "scopes": "Where secondary aid applies 适用范围: `inpatient`, `community_outpatient`, `special_outpatient`",
    "secondary_aid": "Secondary aid 二次救助 block, or null",
    "segments": "Ratio segments 分段比例 above the deductible",
    "self_pay_full": "Full self-pay 全自费 fulamt_ownpay_amt",
    "self_pay_ratio": "Pre-self-pay ratio 先行自付比例 (class B)",
    "settled_at": "When it was settled 结算时间 (RFC 3339), null for a preview",
    "settlement_id": "Settlement id 结算ID (setl_id)",
    "sites": "Chosen sites 选定定点机构 (institution codes) or `all`",
    "special_disease": "Special-disease code 门诊慢特病病种 (required for med_type 14)",
    "special_disease_sites": "Rules on chosen sites 慢特病定点规则",
    "special_diseases": "Special diseases 门诊慢特病病种, by code",
    "status": "Status 状态",
    "supplementary": "Has supplementary insurance 补充医疗保险",
    "threshold": "Threshold 起付标准, yuan",
    "tilt": "Tilt for aid categories 倾斜政策, or null",
    "title": "Short summary 标题",
    "to_institution": "Receiving institution 转入机构",
    "total": "Total cost 医疗费总额 medfee_sumamt",
    "totals": "The settlement's amounts 结算汇总",
    "type": "Type 类型",
    "unfiled": "Without a filing 未备案: `reject` or `ratio_delta`",
    "unfiled_ratio_delta": "Ratio change without a filing 未备案比例调整",
    "unit_price": "Unit price 单价, yuan",
    "up_to": "Upper bound of the segment 分段上限, yuan (null: open)",
    "updated_at": "Last change 更新时间 (RFC 3339)",
    "use_personal_account": "Pay the personal share from the personal account 使用个人账户 (default true)",
    "valid_from": "First day valid 开始日期",
    "valid_to": "Last day valid 结束日期 (null: open)",
    "year": "Accumulation year 年度",
    "key": "The API key 密钥",
    "label": "Label 备注",
    "count": "Count 数量",
    "expires_at": "Expiry 失效时间",
    "basis": "Base amount 计算基数, yuan",
    "consumed_by": "Settlement that consumed it 使用该转诊的结算",
    "min_level": "Lowest institution level 最低医院等级",
    "pool_self_pay": "Personal share within the pool 统筹内个人自付 (deductible excluded)",
    "over_cap": "Above the annual cap or limit 超封顶线/限额, yuan",
    "basic_fund": "Basic fund paid 统筹基金支付 hifp_pay",
    "personal_total": "Personal burden 个人负担总金额 psn_part_amt",
    "personal_account": "Personal account paid 个人账户支付 acct_pay",
    "ended_at": "When this version ended 结束时间",
    "superseded_by": "The version that replaced it 替代版本",
}

#: Path and query parameters, where the route does not describe them.
PARAMETERS: dict[str, str] = {
    "accept": "Accept 响应格式: `application/json` (default) or `text/csv`",
    "date_from": "First encounter date 开始日期 (inclusive)",
    "date_to": "Last encounter date 结束日期 (inclusive)",
    "limit": "Page size 每页条数 (≤ 500)",
    "cursor": "`next_cursor` of the previous page 翻页游标",
    "referral_id": "Referral id 转诊ID",
}

#: Where one name means something else in one schema.
OVERRIDES: dict[tuple[str, str], str] = {
    ('SimulationIn', 'draft'): 'The draft policy document 测算方案 (policy.md), validated as by PUT /v1/policies',
    ('CapsReport', 'rows'): 'One row per fund and month 封顶统计',
    ('FundPayments', 'rows'): 'One row per group with a non-zero amount 基金支付统计',
    ('TotalsRequest', 'rows'): "The institution's totals 医药机构对总账数据, one row per insutype and clr_type",
    ('TotalsResponse', 'rows'): 'One answer per row, in the same order 对账结果',
    ('CapsRow', 'month'): 'Month 月份 (YYYY-MM)',
    ('FundPaymentRow', 'month'): 'Month 月份 (YYYY-MM), when grouped by month',
    # chronic-disease applications and screening (seeds 002, 004; docs/chronic.md)
    ("ApplicationIn", "evidence"): "Evidence 证明材料",
    ("ApplicationIn", "note"): "Free-text note 备注 kept with the application",
    ("BatchIn", "decisions"): "One decision per application 审核结果 of the batch (all or nothing)",
    ("BatchOut", "results"): "What each decision did 审核结果",
    ("BatchResult", "application_id"): "The application 申请编号",
    ("Candidate", "evidence"): "The settlements that make the person a candidate 筛查依据",
    ("ConfirmationIn", "evidence"): "Evidence 筛查依据",
    ("Decision", "application_id"): "The application decided 申请编号",
    ("Decision", "decision"): "`approve` (creates the registration) or `refuse` 审核结论",
    ("InstitutionForm", "kinds"): "Institution kinds 机构类别 that qualify (`hospital`, `community`, `pharmacy`)",
    ("InstitutionForm", "institutions"): "Institution codes 定点医药机构编号 designated by the health authority",
    ("LedgerItem", "application_id"): "The application 申请编号",
    ("LedgerItem", "month"): "Batch month 批次月份",
    ("LedgerItem", "applied_by"): "Applying institution 申请机构 (service point)",
    ("LedgerItem", "decided_at"): "When the batch decided it 审核时间, or null while pending",
    ("ScreeningOut", "candidates"): "Persons the screening found 筛查对象, with the evidence",
    ("SpecialDisease", "certified_by"): "Who may certify 认定机构",
    ("SpecialDisease", "treated_by"): "Who may treat 治疗机构",
    ("SpecialDisease", "aid_categories"): "Aid categories 救助对象类别 the disease is open to",
    ("Problem", "type"): "URI of the problem type 问题类型 (RFC 9457)",
    ("Problem", "code"): "Stable snake_case error code 错误码 (docs/his-integration.md lists them)",
    ("Problem", "status"): "HTTP status 状态码",
    ("Problem", "detail"): "Human-readable explanation 详细说明 (never personal data)",
    ("Health", "status"): "`ok` when the process is up 存活",
    ("Readiness", "status"): "`ready` 就绪",
    ("Readiness", "revision"): "Migration revision of the database 数据库迁移版本",
    ("HTTPValidationError", "detail"): "Validation errors 校验错误",
    ("ValidationError", "type"): "Error type 错误类型",
    ("SettlementOut", "status"): "`preview` 预结算, `settled` 已结算 or `reversed` 已撤销",
    ("SettlementSummary", "status"): "`settled` 已结算 or `reversed` 已撤销",
    ("SettlementOut", "cross_region"): "Settled cross-region 异地就医",
    ("SettlementOut", "items"): "Fee lines as classified 费用明细",
    ("SettlementRequest", "items"): "Fee lines 费用明细 (1–1000)",
    ("SettlementList", "items"): "Settlements 结算记录, oldest first",
    ("ItemOut", "amount"): "Line amount 明细金额 = qty × unit_price, yuan",
    ("ItemOut", "code"): "Catalog code 医保目录编码",
    ("FeeLineIn", "code"): "Catalog code 医保目录编码 (med_list_codg)",
    ("ItemOut", "name"): "Item name 项目名称 (the catalog's)",
    ("FeeLineIn", "name"): "Item name 项目名称 (optional; the catalog's is returned)",
    ("FundOut", "amount"): "Paid by this fund 基金支付金额 fund_payamt, yuan",
    ("AccumulatorsOut", "deductible"): "Deductibles paid this year 起付线累计, by group",
    ("PolicyDocument", "name"): "Policy name 政策名称",
    ("PolicyDocument", "cross_region"): "Cross-region rules 异地就医",
    ("SpecialDisease", "name"): "Disease name 病种名称",
    ("PersonIn", "name"): "Full name 姓名",
    ("PersonRecord", "name"): "Full name 姓名",
    ("PersonView", "name"): "Full name 姓名",
    ("BasicRule", "kind"): "Institution kind 机构类型 the rule applies to (null: any)",
    ("BasicRule", "level"): "Hospital level 医院等级 the rule applies to (null: any)",
    ("RegionIn", "name"): "Region name 区划名称",
    ("RegionOut", "name"): "Region name 区划名称",
    ("RegionOut", "code"): "Region code 医保区划 (6 digits)",
    ("InstitutionIn", "name"): "Institution name 机构名称",
    ("InstitutionOut", "name"): "Institution name 机构名称",
    ("InstitutionOut", "code"): "Institution code 定点医药机构编号",
    ("InstitutionIn", "level"): "Hospital level 医院等级 (1–3; community 1; pharmacy null)",
    ("InstitutionOut", "level"): "Hospital level 医院等级 (1–3; community 1; pharmacy null)",
    ("InstitutionOut", "region"): "Region 所在区划",
    ("CatalogItemOut", "region"): "Catalog region 目录区划 (`000000` national)",
    ("CatalogBulkOut", "region"): "Catalog region 目录区划 (`000000` national)",
    ("CatalogBulkItem", "code"): "Catalog code 医保目录编码",
    ("CatalogItemOut", "code"): "Catalog code 医保目录编码",
    ("CatalogBulkItem", "name"): "Item name 项目名称",
    ("CatalogItemIn", "name"): "Item name 项目名称",
    ("CatalogItemOut", "name"): "Item name 项目名称",
    ("CatalogBulkIn", "items"): "Catalog items 目录项目 (all or nothing)",
    ("FilingList", "items"): "Cross-region filings 异地就医备案",
    ("RegistrationList", "items"): "Special-disease registrations 慢特病认定",
}


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _has_latin_word(text: str) -> bool:
    """An English word (not only a national field name such as ``fulamt_ownpay_amt``)."""
    import re

    return any(len(w) >= 3 and "_" not in w for w in re.findall(r"[A-Za-z_]+", text))


def _schema_kind(prop: dict[str, Any]) -> str | None:
    if prop.get("type") == "string":
        return "string"
    options = prop.get("anyOf") or []
    types = {o.get("type") for o in options if "enum" not in o}
    return "nullable-string" if types == {"string", "null"} else None


def _model_examples() -> dict[str, Any]:
    """Schema name → the example its model declares (``json_schema_extra``), nulls included.

    FastAPI writes the document with ``exclude_none``, which drops the ``null`` members of
    examples; an example such as a policy whose last segment has ``"up_to": null`` would no
    longer be valid as printed. The models' own examples are put back."""
    from pydantic import BaseModel

    found: dict[str, list[Any]] = {}
    stack = list(BaseModel.__subclasses__())
    while stack:
        model = stack.pop()
        stack.extend(model.__subclasses__())
        extra = model.model_config.get("json_schema_extra")
        if model.__module__.startswith("app.") and isinstance(extra, dict) and "example" in extra:
            found.setdefault(model.__name__, []).append(extra["example"])
    return {name: examples[0] for name, examples in found.items() if len(examples) == 1}


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """Fill every schema property's missing description; document code tables (in place)."""
    examples = _model_examples()
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if "description" not in parameter:
                    text = PARAMETERS.get(name) or GLOSSARY.get(name)
                    if name == "code":
                        text = "Institution code 定点医药机构编号" if path.startswith("/v1/institutions") else "Catalog code 医保目录编码"
                    if text is not None:
                        parameter["description"] = text
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            name = content.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            if "example" in content and name in examples:
                content["example"] = examples[name]
    for schema_name, schema in spec.get("components", {}).get("schemas", {}).items():
        if "example" in schema and schema_name in examples:
            schema["example"] = examples[schema_name]
    for schema_name, schema in spec.get("components", {}).get("schemas", {}).items():
        for name, prop in schema.get("properties", {}).items():
            table = CODED_IN.get((schema_name, name)) or CODED.get(name)
            text = OVERRIDES.get((schema_name, name)) or GLOSSARY.get(name)
            own = prop.get("description")
            if text is not None and own is None:
                prop["description"] = text
            elif text is not None and not _has_cjk(own):
                prop["description"] = f"{text}: {own}"  # the model's English, with the Chinese term
            elif text is not None and not _has_latin_word(own):
                prop["description"] = f"{own} — {text}"  # the model's Chinese, with the English
            if table is not None:
                codes = CODE_TABLES[table]
                prop["description"] = prop.get("description", name).rstrip(".") + ". Codes: " + _codes(table)
                # A plain string gets the table as its enum (documentation only: validation is the model's).
                if "$ref" not in prop and "enum" not in prop and _schema_kind(prop) == "string":
                    prop["enum"] = list(codes)
    return spec
