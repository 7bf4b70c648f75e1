"""National answer nodes built from our records: ``setlinfo`` / ``setldetail`` from a
stored settlement (api.md, "National interface"), ``baseinfo`` / ``insuinfo`` /
``idetinfo`` from a person, the per-line ``result`` of a fee upload.

Every amount is a `Decimal` with two decimals (written as a JSON number by
`app.national.jsontext`); a reversal record negates every amount but ``balc`` and the
ratio ``pool_prop_selfpay``.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.kit.clock import CST
from app.national import jsontext
from app.national.jsontext import money, negate
from app.national.ports import ClassifiedLine, PersonInfo

FUND_NAMES = {
    "310100": "城镇职工基本医疗保险统筹基金",
    "390100": "城乡居民基本医疗保险基金",
    "330100": "大额医疗费用补助基金",
    "390200": "城乡居民大病医疗保险基金",
    "610100": "医疗救助基金",
    "610102": "医疗再救助",
    "999997": "其他基金",
    "310200": "城镇职工基本医疗保险个人账户基金",
}

#: Our aid categories as 人员身份类别 psn_idet_type (no national dictionary was available:
#: these codes are ours, named in ``memo``; docs/national-interface.md).
IDENTITY_TYPES = {
    "extreme_poverty": ("01", "特困供养人员"),
    "minimum_living": ("02", "最低生活保障对象"),
    "registered_poor": ("03", "返贫致贫人口"),
    "low_income": ("04", "低收入人口"),
}

GENDER_CODES = {"male": "1", "female": "2"}


def clr_type(med_type: str) -> str:
    """Clearing category (api.md, Reconciliation): 11 for 11 and 14, 21, 41."""
    return {"21": "21", "41": "41"}.get(med_type, "11")


def national_time(moment: dt.datetime | str | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def age_on(birth: dt.date, day: dt.date) -> Decimal:
    years = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    return Decimal(years).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)  # an integer: exact


def psn_type(insutype: str, person: PersonInfo, day: dt.date) -> str:
    """人员类别: 1101 职工在职, 1201 职工退休, 1501 普通居民 (成年), 1403 中小学生 (under 18)."""
    if insutype == "310":
        return "1201" if person.retired else "1101"
    return "1501" if age_on(person.birth_date, day) >= 18 else "1403"


def mask_certno(certno: str) -> str:
    return certno[:6] + "*" * (len(certno) - 10) + certno[-4:] if len(certno) > 10 else certno


def ratio(value: Decimal) -> Decimal:
    """A ratio as a number with at least two decimals (0.7 → 0.70, 0.055 → 0.055)."""
    text = format(value.normalize(), "f")
    places = len(text.split(".")[1]) if "." in text else 0
    return value.quantize(Decimal(1).scaleb(-max(2, places)), rounding=ROUND_HALF_UP)  # only adds zeros


def basic_ratio(settlement: dict[str, Any]) -> Decimal:
    """pool_prop_selfpay: the basic ratio applied, bonuses included; 0 when basic paid nothing.

    The stored settlement names the ratio in its basic fund line's explanation ("… 比例
    70% …", written by the engine's basic layer from the ratio it applied)."""
    for fund in settlement["funds"]:
        if fund["fund"] == "basic" and Decimal(fund["amount"]):
            text = fund["explanation"]
            at = text.find("比例 ")
            if at >= 0:
                number = text[at + 3 :].split("%", 1)[0]
                return ratio(Decimal(number) / 100)
    return Decimal("0.00")


def setlinfo(
    settlement: dict[str, Any],
    person: PersonInfo,
    *,
    mdtrt_id: str,
    medins_setl_id: str,
    balance_after: Decimal,
    mdtrt_cert_type: str | None,
    reversal: bool = False,
    preview: bool = False,
    extra_names: bool = False,
) -> dict[str, Any]:
    """The ``setlinfo`` node (national-interface.md §2.2) of one settlement or its reversal."""
    t = {name: Decimal(value) for name, value in settlement["totals"].items()}
    amount = negate if reversal else money
    insutype = settlement["insutype"]
    day = dt.date.fromisoformat(settlement["encounter_date"])
    critical = t["critical_illness"]
    when = settlement["reversed_at"] if reversal else settlement["settled_at"]
    info: dict[str, Any] = {
        "mdtrt_id": mdtrt_id,
        "setl_id": None if preview else settlement["settlement_id"],
        "psn_no": person.person_id,
        "psn_name": person.name,
        "psn_cert_type": "01",
        "certno": mask_certno(person.certno),
        "gend": GENDER_CODES.get(person.gender, "9"),
        "naty": "",
        "brdy": person.birth_date.isoformat(),
        "age": age_on(person.birth_date, day),
        "insutype": insutype,
        "psn_type": psn_type(insutype, person, day),
        "cvlserv_flag": "0",
        "setl_time": None if preview else national_time(when),
        "mdtrt_cert_type": mdtrt_cert_type or "02",
        "med_type": settlement["med_type"],
        "medfee_sumamt": amount(t["total"]),
        "fulamt_ownpay_amt": amount(t["self_pay_full"]),
        "overlmt_selfpay": amount(t["over_limit"]),
        "preselfpay_amt": amount(t["pre_self_pay"]),
        "inscp_scp_amt": amount(t["in_scope"]),
        "act_pay_dedc": amount(t["deductible"]),
        "hifp_pay": amount(t["basic_fund"]),
        "pool_prop_selfpay": basic_ratio(settlement),
        "cvlserv_pay": money(0),
        "hifes_pay": money(0),
        "hifmi_pay": amount(critical if insutype == "390" else 0),
        "hifob_pay": amount(critical if insutype != "390" else 0),
        "maf_pay": amount(t["medical_aid"]),
        "oth_pay": amount(t["secondary_aid"] + t["fallback"]),
        "fund_pay_sumamt": amount(t["fund_total"]),
        "psn_part_amt": amount(t["personal_total"]),
        "acct_pay": amount(t["personal_account"]),
        "psn_cash_pay": amount(t["cash"]),
        "hosp_part_amt": money(0),
        "balc": money(balance_after),
        "acct_mulaid_pay": money(0),
        "medins_setl_id": medins_setl_id,
        "clr_optins": person.insured_region,
        "clr_way": "1",
        "clr_type": clr_type(settlement["med_type"]),
    }
    if extra_names:  # 2103 (S11 RT2103) names the person part and cash so
        info["psn_pay"] = info["psn_part_amt"]
        info["cash_payamt"] = info["psn_cash_pay"]
    return info


def setldetail(settlement: dict[str, Any], *, reversal: bool = False) -> list[dict[str, Any]]:
    """One line per fund that paid (non-zero) and for the personal account when it paid."""
    amount = negate if reversal else money
    in_scope = Decimal(settlement["totals"]["in_scope"])
    rows = []
    for fund in settlement["funds"]:
        paid = Decimal(fund["amount"])
        if not paid:
            continue
        process: dict[str, Any] = {
            "polItemCode": fund["fund"],
            "polItemName": fund["explanation"],
            "fundPayamt": amount(paid),
            "basis": amount(Decimal(fund["basis"])),
        }
        if fund["fund"] == "basic":
            process["poolPropSelfpay"] = basic_ratio(settlement)
        rows.append({
            "fund_pay_type": fund["fund_pay_type"],
            "inscp_scp_amt": amount(in_scope),
            "crt_payb_lmt_amt": amount(Decimal(fund["basis"])),
            "fund_payamt": amount(paid),
            "fund_pay_type_name": FUND_NAMES.get(fund["fund_pay_type"], fund["fund"]),
            "setl_proc_info": jsontext.dumps([process]),
        })  # fmt: skip
    return rows


# --------------------------------------------------------------------------- fee lines


def _chrgitm_type(code: str) -> str:
    """医疗收费项目类别 from the catalog code's shape: X… 西药 09, Z… 中成药 11, C + digits
    卫生材料 08, digits 医疗服务 (05 治疗 as the generic service class). The catalog has no
    such field; a heuristic, documented as such."""
    if code[:1] == "X":
        return "09"
    if code[:1] == "Z":
        return "11"
    if code[:1] == "C" and code[1:].isdigit():
        return "08"
    return "05" if code[:1].isdigit() else "14"


def line_result(line: ClassifiedLine, feedetl_sn: str, *, refund: bool = False) -> dict[str, Any]:
    """One row of the 2204 / 2301 ``result`` (and 2101 / 2102 ``detlcutinfo``)."""
    item, catalog = line.item, line.catalog
    amount = negate if refund else money
    sign = -1 if refund else 1
    if item.reason is not None or catalog is None:
        prop = Decimal("1")
    elif catalog.category == "B":
        prop = catalog.self_pay_ratio
    else:
        prop = Decimal("0")
    level = {"A": "01", "B": "02", "C": "03"}.get(item.category or "", "03")
    return {
        "feedetl_sn": feedetl_sn,
        "det_item_fee_sumamt": amount(item.amount),
        "cnt": item.qty * sign,
        "pric": item.unit_price,
        "pric_uplmt_amt": catalog.price_cap if catalog is not None and catalog.price_cap is not None else Decimal(999999),
        "selfpay_prop": ratio(prop),
        "fulamt_ownpay_amt": amount(item.self_pay_full),
        "overlmt_amt": amount(item.over_limit),
        "preselfpay_amt": amount(item.pre_self_pay),
        "inscp_scp_amt": amount(item.in_scope),
        "chrgitm_lv": level,
        "med_chrgitm_type": _chrgitm_type(item.code),
        "bas_medn_flag": "0",
        "hi_nego_drug_flag": "0",
        "chld_medc_flag": "0",
        "list_sp_item_flag": "0",
        "lmt_used_flag": "1" if catalog is not None and catalog.restriction is not None else "0",
        "drt_reim_flag": "0",
        "memo": item.reason,
        "exp_content": None,
    }


def settled_line(item: dict[str, Any], feedetl_sn: str) -> dict[str, Any]:
    """One 2101 / 2102 ``detlcutinfo`` row: a settled item of the stored settlement (2204's
    ``result`` fields but the catalog's limit, ratio and restriction flag)."""
    return {
        "feedetl_sn": feedetl_sn,
        "det_item_fee_sumamt": money(Decimal(item["amount"])),
        "cnt": Decimal(item["qty"]),
        "pric": Decimal(item["unit_price"]),
        "fulamt_ownpay_amt": money(Decimal(item["self_pay_full"])),
        "overlmt_amt": money(Decimal(item["over_limit"])),
        "preselfpay_amt": money(Decimal(item["pre_self_pay"])),
        "inscp_scp_amt": money(Decimal(item["in_scope"])),
        "chrgitm_lv": {"A": "01", "B": "02", "C": "03"}.get(item["category"] or "", "03"),
        "med_chrgitm_type": _chrgitm_type(item["code"]),
        "bas_medn_flag": "0",
        "hi_nego_drug_flag": "0",
        "chld_medc_flag": "0",
        "list_sp_item_flag": "0",
        "drt_reim_flag": "0",
        "memo": item["reason"],
        "exp_content": None,
    }


# --------------------------------------------------------------------------- persons


def baseinfo(person: PersonInfo, *, certno_shown: str, day: dt.date) -> dict[str, Any]:
    return {
        "psn_no": person.person_id,
        "psn_cert_type": "01",
        "certno": certno_shown,
        "psn_name": person.name,
        "gend": GENDER_CODES.get(person.gender, "9"),
        "naty": "",
        "brdy": person.birth_date.isoformat(),
        "age": age_on(person.birth_date, day),
        "exp_content": None,
    }


def insuinfo(person: PersonInfo, day: dt.date) -> list[dict[str, Any]]:
    rows = []
    for insutype, valid_from, valid_to in person.enrollments:
        active = valid_from <= day and (valid_to is None or day <= valid_to)
        rows.append({
            "balc": money(person.account_balance),
            "insutype": insutype,
            "psn_type": psn_type(insutype, person, day),
            "psn_insu_stas": "1" if active else "4",
            "psn_insu_date": valid_from.isoformat(),
            "paus_insu_date": valid_to.isoformat() if valid_to else None,
            "cvlserv_flag": "0",
            "insuplc_admdvs": person.insured_region,
            "emp_name": "",
        })  # fmt: skip
    return rows


def idetinfo(person: PersonInfo) -> list[dict[str, Any]]:
    if person.aid_category is None or person.aid_category not in IDENTITY_TYPES:
        return []
    code, name = IDENTITY_TYPES[person.aid_category]
    return [{"psn_idet_type": code, "psn_type_lv": None, "memo": name, "begntime": None, "endtime": None}]
