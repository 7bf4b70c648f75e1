"""The patient's one-stop settlement slip 一站式结算单: what it says, as HTML and as PDF.

`build_slip` turns the stored settlement, the institution, the person and the year's
figures right after the settlement into a `Slip` (labels and formatted values, all in
Chinese). `render_html` and `render_pdf` lay the same `Slip` out; neither computes
anything. The layout follows national-interface.md §6(a): head, person, year to date,
fee classes, policy items, this settlement's payments, total reimbursed with 大写.

Fonts: the slip's characters are set in Noto Sans SC (SIL Open Font License 1.1), shipped
by the ``pylopdf-fonts-zh-cn`` wheel; no system font is assumed. Each slip embeds only the
glyphs it uses (fontTools subset): in the PDF through fpdf2, in the HTML as an
``@font-face`` data URI, so the page prints the same on a machine without CJK fonts and
needs no asset request.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import io
import os
import string
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.engine.model import ACCOUNT_BALANCE
from app.engine.money import yuan
from app.persons.certno import mask
from app.settlement.capitals import capital_amount

ZERO = Decimal(0)
TEMPLATES = Path(__file__).parent / "templates"

PAPERS = ("A4", "A5")

MED_TYPES = {"11": "普通门诊", "14": "门诊慢特病", "21": "普通住院", "41": "定点药店购药"}
INSUTYPES = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
AID_CATEGORIES = {
    "extreme_poverty": "特困供养人员",
    "minimum_living": "最低生活保障对象",
    "registered_poor": "建档立卡贫困人员",
    "low_income": "低收入救助对象",
}
GENDERS = {"male": "男", "female": "女"}
LEVELS = {1: "一级", 2: "二级", 3: "三级"}
FUND_NAMES = {
    "basic": "统筹基金",
    "critical_illness": "大病保险",
    "medical_aid": "医疗救助",
    "fallback": "兜底保障",
    "secondary_aid": "二次救助",
    "personal_account": "个人账户",
}
CLASS_NAMES = {"A": "甲类", "B": "乙类", "C": "丙类", None: "目录外"}
GROUP_NAMES = {
    "outpatient": "门诊",
    "inpatient": "住院",
    "special": "门诊慢特病",
    "general_outpatient": "普通门诊统筹",
}
#: Year-to-date scalars (5206 cuminfo), in slip order.
YEAR_SCALARS = (
    ("basic_paid", "统筹基金累计支付"),
    ("ci_base", "大病保险累计合规费用"),
    ("ci_paid", "大病保险累计支付"),
    ("aid_base", "医疗救助累计合规费用"),
    ("aid_paid", "医疗救助累计支付"),
    ("sa_base", "二次救助累计合规费用"),
    ("sa_paid", "二次救助累计支付"),
)


@dataclass(frozen=True, slots=True)
class Slip:
    title: str
    institution: str
    institution_level: str
    print_date: str
    settlement_id: str
    encounter_id: str
    reversed: bool
    reversed_at: str | None
    person: list[tuple[str, str]]
    year_to_date: list[tuple[str, str]]
    #: (class, total, self_pay_full, over_limit, pre_self_pay, in_scope); the last row is 合计.
    fee_classes: list[tuple[str, str, str, str, str, str]]
    #: (item, base, amount, explanation)
    policy_items: list[tuple[str, str, str, str]]
    payments: list[tuple[str, str]]
    total_reimbursed: str
    total_reimbursed_capitals: str
    personal_burden: str
    personal_burden_capitals: str
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Every character the slip prints (for the font subset)."""
        parts: list[str] = [self.title, self.institution, self.institution_level, self.print_date,
                            self.settlement_id, self.encounter_id, self.reversed_at or "", "".join(self.notes)]  # fmt: skip
        for rows in (self.person, self.year_to_date, self.fee_classes, self.policy_items, self.payments):
            for row in rows:
                parts.extend(row)
        parts += [self.total_reimbursed, self.total_reimbursed_capitals, self.personal_burden,
                  self.personal_burden_capitals, STATIC_TEXT]  # fmt: skip
        return "".join(parts)


#: Labels the renderers print that are not in the `Slip`'s fields.
STATIC_TEXT = (
    "基本医疗保险一站式结算单已撤销医疗机构等级打印日期金额单位：元（）结算编号就诊编号"
    "一、参保人信息二、年度累计（本次结算后）三、费用分类四、政策支付项五、本次支付"
    "六、合计类别费用总额全自费超限价自费先行自付政策范围内项目计算基数金额说明"
    "合计报销金额大写个人负担总金额经办人签字患者签字撤销时间第页共"
    "0123456789.-:/ ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz*%→()"
)


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _cst(moment: str | None) -> str:
    if not moment:
        return ""
    return dt.datetime.fromisoformat(moment).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _category(insutype: str, retired: bool) -> str:
    if insutype == "310":
        return "退休人员" if retired else "在职职工"
    return "城乡居民"


def _group_label(name: str) -> str:
    prefix, _, key = name.partition(":")
    label = GROUP_NAMES.get(key, key)
    if prefix == "deductible":
        return f"起付线累计（{label}）"
    if prefix == "limit":
        return f"限额累计（{label}）"
    if prefix == "disease":
        return f"慢特病 {key} 累计"
    return name


def _chinese(explanation: str) -> str:
    """The engine names aid categories by their API codes; the patient reads them in Chinese."""
    for code, name in AID_CATEGORIES.items():
        explanation = explanation.replace(code, name)
    return explanation


def build_slip(
    settlement: Mapping[str, Any],
    *,
    institution: Mapping[str, Any],
    institution_region: str,
    policy_region: str,
    person: Mapping[str, Any],
    insured_region: str,
    year_to_date: Mapping[str, Decimal],
    balance_after: Decimal | None,
    print_date: dt.date,
) -> Slip:
    """The slip's content. ``settlement`` is the settlement as the API returns it (with its
    present status); region arguments are names; ``balance_after`` is the account balance
    right after this settlement, or None when it cannot be known exactly."""
    totals = {name: _money(value) for name, value in settlement["totals"].items()}
    encounter_date = dt.date.fromisoformat(settlement["encounter_date"])
    kind, level = institution["kind"], institution["level"]
    level_text = {"hospital": f"{LEVELS.get(level, '')}医院", "community": "社区卫生服务机构（一级）",
                  "pharmacy": "定点零售药店"}.get(kind, kind)  # fmt: skip
    insutype = settlement["insutype"]
    person_rows = [
        ("姓名", person["name"]),
        ("性别", GENDERS.get(person["gender"], person["gender"])),
        ("年龄", f"{_age(person['birth_date'], encounter_date)}岁"),
        ("证件号码", mask(person["certno"])),
        ("人员编号", settlement["person_id"]),
        ("人员类别", _category(insutype, bool(person["retired"]))),
        ("医疗救助类别", AID_CATEGORIES.get(person["aid_category"] or "", "无")),
        ("险种类型", INSUTYPES.get(insutype, insutype)),
        ("参保地", insured_region),
        ("就医地", institution_region + ("（异地就医）" if settlement["cross_region"] else "")),
        ("医疗类别", MED_TYPES.get(settlement["med_type"], settlement["med_type"])),
        ("就诊日期", settlement["encounter_date"]),
        ("结算时间", _cst(settlement["settled_at"])),
        ("个人账户余额", yuan(balance_after) if balance_after is not None else "—"),
    ]
    ytd_rows = [(label, yuan(year_to_date.get(name, ZERO))) for name, label in YEAR_SCALARS]
    ytd_rows.insert(1, ("个人账户累计支付", yuan(-year_to_date.get(ACCOUNT_BALANCE, ZERO))))
    for name in sorted(n for n in year_to_date if ":" in n):
        ytd_rows.append((_group_label(name), yuan(year_to_date[name])))

    classes: dict[str | None, list[Decimal]] = {}
    for item in settlement["items"]:
        sums = classes.setdefault(item["category"], [ZERO] * 5)
        for i, key in enumerate(("amount", "self_pay_full", "over_limit", "pre_self_pay", "in_scope")):
            sums[i] += _money(item[key])
    fee_rows = [
        (CLASS_NAMES[cat], *(yuan(v) for v in classes[cat]))
        for cat in ("A", "B", "C", None)
        if cat in classes
    ]
    fee_rows.append(("合计", *(yuan(totals[k]) for k in ("total", "self_pay_full", "over_limit", "pre_self_pay", "in_scope"))))

    policy_rows = [
        ("完全政策自付（全自费+超限价）", "", yuan(totals["self_pay_full"] + totals["over_limit"]), "目录外、丙类及超限价部分"),
        ("部分政策自付（先行自付）", "", yuan(totals["pre_self_pay"]), "乙类先行自付部分"),
        ("本次起付线", "", yuan(totals["deductible"]), "实际支付起付线"),
        ("统筹内个人自付", "", yuan(totals["pool_self_pay"]), "起付线以上按比例个人负担部分"),
        ("超封顶/限额", "", yuan(totals["over_cap"]), "超过年度封顶线或限额的部分"),
    ]
    for line in settlement["funds"]:
        name = FUND_NAMES.get(line["fund"], line["fund"])
        policy_rows.append((f"{name} {line['fund_pay_type']}", line["basis"], line["amount"], _chinese(line["explanation"])))

    ci_name = "职工大额医疗费用补助" if insutype == "310" else "城乡居民大病保险"
    payments = [
        ("医疗费总额", yuan(totals["total"])),
        ("统筹基金支付", yuan(totals["basic_fund"])),
        (ci_name, yuan(totals["critical_illness"])),
        ("医疗救助", yuan(totals["medical_aid"])),
        ("兜底保障（其他基金）", yuan(totals["fallback"])),
        ("二次救助（医疗再救助）", yuan(totals["secondary_aid"])),
        ("基金支付总额", yuan(totals["fund_total"])),
        ("个人账户支付", yuan(totals["personal_account"])),
        ("现金支付", yuan(totals["cash"])),
    ]
    notes = []
    if balance_after is None:
        notes.append("个人账户余额：本次结算后参保人信息有变更，余额以查询为准。")
    reversed_ = settlement["status"] == "reversed"
    if reversed_:
        notes.append(f"本结算已于 {_cst(settlement['reversed_at'])} 撤销，基金支付与累计均已退回。")
    return Slip(
        title=f"{policy_region}基本医疗保险一站式结算单",
        institution=institution["name"],
        institution_level=level_text,
        print_date=print_date.isoformat(),
        settlement_id=settlement["settlement_id"],
        encounter_id=settlement["encounter_id"],
        reversed=reversed_,
        reversed_at=_cst(settlement["reversed_at"]) if reversed_ else None,
        person=person_rows,
        year_to_date=ytd_rows,
        fee_classes=fee_rows,
        policy_items=policy_rows,
        payments=payments,
        total_reimbursed=yuan(totals["fund_total"]),
        total_reimbursed_capitals=capital_amount(totals["fund_total"]),
        personal_burden=yuan(totals["personal_total"]),
        personal_burden_capitals=capital_amount(totals["personal_total"]),
        notes=notes,
    )


# --------------------------------------------------------------------------- font


def font_path() -> str:
    import pylopdf_fonts_zh_cn

    return str(pylopdf_fonts_zh_cn.sans_path())


@functools.lru_cache(maxsize=32)
def _subset(chars: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(font_path(), lazy=True)
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]  # keep the copyright and licence names with the glyphs
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def font_subset(text: str) -> bytes:
    """Noto Sans SC (OpenType/CFF) cut down to the characters of ``text``."""
    return _subset("".join(sorted(set(text))))


# --------------------------------------------------------------------------- HTML


def _rows(pairs: Sequence[tuple[str, str]], per_line: int = 2) -> str:
    cells = [f"<th>{html.escape(k)}</th><td>{html.escape(v)}</td>" for k, v in pairs]
    while len(cells) % per_line:
        cells.append("<th></th><td></td>")
    return "".join(f"<tr>{''.join(cells[i:i + per_line])}</tr>" for i in range(0, len(cells), per_line))


def _table(rows: Sequence[Sequence[str]], numeric_from: int, strong_last: bool = False) -> str:
    out = []
    for index, row in enumerate(rows):
        cls = ' class="total"' if strong_last and index == len(rows) - 1 else ""
        cells = "".join(
            f'<td class="num">{html.escape(c)}</td>' if i >= numeric_from and i < numeric_from + 5 else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr{cls}>{cells}</tr>")
    return "".join(out)


def render_html(slip: Slip, paper: str = "A4") -> str:
    """The slip as one self-contained HTML page (font embedded), printable on A4 or A5."""
    template = string.Template((TEMPLATES / "slip.html").read_text("utf-8"))
    font = base64.b64encode(font_subset(slip.text())).decode("ascii")
    policy = "".join(
        f"<tr><td>{html.escape(a)}</td><td class=\"num\">{html.escape(b)}</td>"
        f"<td class=\"num\">{html.escape(c)}</td><td>{html.escape(d)}</td></tr>"
        for a, b, c, d in slip.policy_items
    )
    return template.substitute(
        paper=paper,
        base_size="9.5pt" if paper == "A4" else "6.5pt",
        margin="8mm" if paper == "A4" else "6mm",
        font=font,
        title=html.escape(slip.title),
        reversed_class="reversed" if slip.reversed else "",
        stamp='<div class="stamp">已撤销</div>' if slip.reversed else "",
        institution=html.escape(slip.institution),
        level=html.escape(slip.institution_level),
        print_date=html.escape(slip.print_date),
        settlement_id=html.escape(slip.settlement_id),
        encounter_id=html.escape(slip.encounter_id),
        person=_rows(slip.person),
        year_to_date=_rows(slip.year_to_date),
        fee_classes=_table(slip.fee_classes, 1, strong_last=True),
        policy_items=policy,
        payments=_rows(slip.payments),
        total_reimbursed=html.escape(slip.total_reimbursed),
        total_reimbursed_capitals=html.escape(slip.total_reimbursed_capitals),
        personal_burden=html.escape(slip.personal_burden),
        personal_burden_capitals=html.escape(slip.personal_burden_capitals),
        notes="".join(f"<p class=\"note\">{html.escape(n)}</p>" for n in slip.notes),
    )


# --------------------------------------------------------------------------- PDF


def render_pdf(slip: Slip, paper: str = "A4") -> bytes:
    """The slip as a PDF on A4 or A5 (fpdf2), with the font subset embedded."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    a5 = paper == "A5"
    size = 6.0 if a5 else 9.5
    line = size * 0.4
    pdf = FPDF(orientation="P", unit="mm", format=(148, 210) if a5 else (210, 297))
    pdf.set_title(slip.title)
    pdf.set_creator("medsettle")
    pdf.set_margins(8 if a5 else 12, 8 if a5 else 12, 8 if a5 else 12)
    pdf.set_auto_page_break(True, 8 if a5 else 12)
    handle, path = tempfile.mkstemp(suffix=".otf", prefix="medsettle-slip-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(font_subset(slip.text()))
        pdf.add_font("slip", fname=path)
    finally:
        os.unlink(path)
    pdf.add_page()
    heading = FontFace(emphasis=None, fill_color=(235, 238, 242))

    pdf.set_font("slip", size=size + 5)
    pdf.cell(w=0, h=line * 2.2, text=slip.title, align="C", new_x="LMARGIN", new_y="NEXT")
    if slip.reversed:
        pdf.set_text_color(200, 0, 0)
        pdf.set_font("slip", size=size + 7)
        pdf.cell(w=0, h=line * 2.2, text=f"已撤销（撤销时间 {slip.reversed_at}）", align="C",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        pdf.set_text_color(0, 0, 0)
    pdf.set_font("slip", size=size)
    pdf.multi_cell(
        w=0, h=line * 1.4, new_x="LMARGIN", new_y="NEXT",
        text=f"医疗机构：{slip.institution}（{slip.institution_level}）    打印日期：{slip.print_date}    金额单位：元\n"
        f"结算编号：{slip.settlement_id}    就诊编号：{slip.encounter_id}",
    )  # fmt: skip

    def section(title: str) -> None:
        pdf.ln(line * 0.6)
        pdf.set_font("slip", size=size + 1.5)
        pdf.cell(w=0, h=line * 1.6, text=title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("slip", size=size)

    def pairs(rows: Sequence[tuple[str, str]]) -> None:
        flat = list(rows) + ([("", "")] if len(rows) % 2 else [])
        with pdf.table(col_widths=(26, 24, 26, 24), first_row_as_headings=False, line_height=line * 1.4,
                       text_align=("LEFT", "RIGHT", "LEFT", "RIGHT")) as table:  # fmt: skip
            for i in range(0, len(flat), 2):
                row = table.row()
                for label, value in flat[i : i + 2]:
                    row.cell(label, style=heading)
                    row.cell(value)

    section("一、参保人信息")
    with pdf.table(col_widths=(22, 28, 22, 28), first_row_as_headings=False, line_height=line * 1.4) as table:
        flat = list(slip.person) + ([("", "")] if len(slip.person) % 2 else [])
        for i in range(0, len(flat), 2):
            row = table.row()
            for label, value in flat[i : i + 2]:
                row.cell(label, style=heading)
                row.cell(value)
    section("二、年度累计（本次结算后）")
    pairs(slip.year_to_date)
    section("三、费用分类")
    with pdf.table(col_widths=(16, 18, 16, 16, 16, 18), line_height=line * 1.4, headings_style=heading,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as table:  # fmt: skip
        table.row(["类别", "费用总额", "全自费", "超限价自费", "先行自付", "政策范围内"])
        for fee_row in slip.fee_classes:
            table.row(list(fee_row))
    section("四、政策支付项")
    with pdf.table(col_widths=(30, 14, 14, 42), line_height=line * 1.4, headings_style=heading,
                   text_align=("LEFT", "RIGHT", "RIGHT", "LEFT")) as table:  # fmt: skip
        table.row(["项目", "计算基数", "金额", "说明"])
        for policy_row in slip.policy_items:
            table.row(list(policy_row))
    section("五、本次支付")
    pairs(slip.payments)
    section("六、合计")
    with pdf.table(col_widths=(26, 20, 54), first_row_as_headings=False, line_height=line * 1.6,
                   text_align=("LEFT", "RIGHT", "LEFT")) as table:  # fmt: skip
        table.row([("合计报销金额"), slip.total_reimbursed, f"大写：{slip.total_reimbursed_capitals}"])
        table.row(["个人负担总金额", slip.personal_burden, f"大写：{slip.personal_burden_capitals}"])
    for note in slip.notes:
        pdf.ln(line * 0.4)
        pdf.multi_cell(w=0, h=line * 1.3, text=note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(line * 1.5)
    pdf.cell(w=0, h=line * 1.4, text="经办人签字：                    患者签字：", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
