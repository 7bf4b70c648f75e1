"""The settlement slip 结算单: content (hand-worked), year to date and balance *after this
settlement*, reversal, tenancy, PDF read back with pdftotext, HTML rendered by Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from app.demo.world import demo_key
from app.settlement.capitals import capital_amount
from tests.helpers import make_asgi_client

pytestmark = pytest.mark.asyncio

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HOSPITAL = "H44190000001"  # 东莞市人民医院, level 3
EMPLOYEE = "P441900000007"  # demo: employee 310 at work, account balance 3000.00
POOR = "P441900000003"  # demo: resident 390, minimum_living 低保

# Employee outpatient (med_type 11) at a level-3 hospital: employee rule 50 %, no deductible,
# general-outpatient limit 3000.
OUTPATIENT_ITEMS = [
    {"line_no": 1, "code": "001101000010000", "qty": "1", "unit_price": "10.00"},  # 诊查费 A, cap 10: 10.00 in scope
    {"line_no": 2, "code": "250101001000000", "qty": "1", "unit_price": "20.00"},  # 血常规 A: 20.00 in scope
    {"line_no": 3, "code": "XA11XXA001A001010100", "qty": "2", "unit_price": "15.00"},  # 复合维生素 C: 30.00 self-pay
    {"line_no": 4, "code": "XC10AAA001A001010100", "qty": "10", "unit_price": "3.00"},  # 阿托伐他汀 A (东莞): 30.00
]
# total 90.00 = 甲类 60.00 + 丙类 30.00; basic = 60.00 × 50 % = 30.00; personal 60.00, all from the
# account (balance 3000.00 ≥ 60.00), cash 0.00. Balance after: 3000.00 − 60.00 = 2940.00.

INPATIENT_ITEMS = [
    {"line_no": 1, "code": "001102000010000", "qty": "10", "unit_price": "50.00"},  # 床位费 A (东莞 cap 50): 500.00
    {"line_no": 2, "code": "210300001000000", "qty": "2", "unit_price": "300.00"},  # CT B 10 %: pre 60.00
    {"line_no": 3, "code": "331501001000000", "qty": "1", "unit_price": "5000.00"},  # 支架置入术 B 10 %: pre 500.00
    {"line_no": 4, "code": "120100001000000", "qty": "1", "unit_price": "1000.00"},  # 美容整形 C: 1000.00 self-pay
]


def body(person: str, encounter: str, med_type: str, items: list[dict], date: str = "2026-11-20") -> dict:
    return {"person_id": person, "encounter_id": encounter, "med_type": med_type, "encounter_date": date,
            "diagnoses": ["I25.1"], "items": items}  # fmt: skip


@pytest.fixture
async def hospital(app, demo_world):
    async with make_asgi_client(app, demo_world[f"institution:{HOSPITAL}"]) as c:
        yield c


@pytest.fixture
async def other_hospital(app, demo_world):
    async with make_asgi_client(app, demo_world["institution:H44190000002"]) as c:
        yield c


@pytest.fixture
async def ops(app, demo_world):
    async with make_asgi_client(app, demo_key("ops")) as c:
        yield c


async def settle(client, b: dict, key: str) -> dict:
    r = await client.post("/v1/settlements", json=b, headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    return r.json()


def pdf_text(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        return subprocess.run(["pdftotext", "-layout", f.name, "-"], check=True, capture_output=True, text=True).stdout


def pdf_pages(pdf: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


def cells(html: str) -> str:
    """The page's text, tags removed (the font data URI dropped)."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def pair(text: str, label: str) -> str:
    match = re.search(re.escape(label) + r"\s+(-?[\d.]+|—)", text)
    assert match, f"{label} not on the slip"
    return match.group(1)


async def test_outpatient_slip_content_html(hospital):
    s = await settle(hospital, body(EMPLOYEE, "MZ-SLIP-1", "11", OUTPATIENT_ITEMS), "slip-1")
    t = s["totals"]
    assert (t["total"], t["basic_fund"], t["personal_account"], t["cash"]) == ("90.00", "30.00", "60.00", "0.00")

    r = await hospital.get(f"/v1/settlements/{s['settlement_id']}/slip")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    page = r.text
    assert "@page { size: A4 portrait" in page and "data:font/otf;base64," in page
    text = cells(page)
    assert "东莞市基本医疗保险一站式结算单" in text
    assert "东莞市人民医院（三级医院）" in text and "金额单位：元" in text
    assert "已撤销" not in text
    # the person: certno masked (first 6, last 4), never whole
    assert re.search(r"证件号码 441900\*{8}\d{3}[\dX]", text)
    assert "职工基本医疗保险" in text and "在职职工" in text and "普通门诊" in text
    # fee classes: 甲类 60.00 in scope, 丙类 30.00 full self-pay; 合计 90.00
    assert re.search(r"甲类 60\.00 0\.00 0\.00 0\.00 60\.00", text)
    assert re.search(r"丙类 30\.00 30\.00 0\.00 0\.00 0\.00", text)
    assert re.search(r"合计 90\.00 30\.00 0\.00 0\.00 60\.00", text)
    # payments and the account
    assert pair(text, "统筹基金支付") == "30.00"
    assert pair(text, "个人账户支付") == "60.00"
    assert pair(text, "现金支付") == "0.00"
    assert pair(text, "个人账户余额") == "2940.00"  # 3000.00 − 60.00
    assert pair(text, "统筹基金累计支付") == "30.00"
    assert pair(text, "个人账户累计支付") == "60.00"
    # the policy item comes from the fund line's explanation
    assert s["funds"][0]["explanation"] in text
    # total reimbursed 30.00 = 叁拾元整; personal burden 60.00 = 陆拾元整
    assert "合计报销金额 30.00 大写：叁拾元整" in text
    assert "个人负担总金额 60.00 大写：陆拾元整" in text


async def test_year_to_date_and_balance_are_as_after_this_settlement(hospital):
    first = await settle(hospital, body(EMPLOYEE, "MZ-SLIP-A", "11", OUTPATIENT_ITEMS), "slip-a")
    second = await settle(hospital, body(EMPLOYEE, "MZ-SLIP-B", "11", OUTPATIENT_ITEMS), "slip-b")

    async def figures(settlement_id: str) -> tuple[str, str, str, bool]:
        text = cells((await hospital.get(f"/v1/settlements/{settlement_id}/slip")).text)
        return pair(text, "统筹基金累计支付"), pair(text, "个人账户累计支付"), pair(text, "个人账户余额"), "已撤销" in text

    # after the first: basic 30.00, account paid 60.00, balance 3000.00 − 60.00 = 2940.00 —
    # even though the second has moved all three since
    assert await figures(first["settlement_id"]) == ("30.00", "60.00", "2940.00", False)
    # after the second: 60.00, 120.00, 3000.00 − 120.00 = 2880.00
    assert await figures(second["settlement_id"]) == ("60.00", "120.00", "2880.00", False)

    r = await hospital.post(f"/v1/settlements/{first['settlement_id']}/reversal")
    assert r.status_code == 201
    # the reversed slip still shows the moment it was made, stamped 已撤销
    assert await figures(first["settlement_id"]) == ("30.00", "60.00", "2940.00", True)
    # the second was made while the first was live: its figures do not change either
    # (balance now 2940.00; the first's reversal came after the second, so it is added back: 2880.00)
    assert await figures(second["settlement_id"]) == ("60.00", "120.00", "2880.00", False)

    third = await settle(hospital, body(EMPLOYEE, "MZ-SLIP-C", "11", OUTPATIENT_ITEMS), "slip-c")
    # made after the reversal: only the second counts before it: 60.00 + 30.00, 120.00 + 60.00,
    # 3000.00 − 60.00 − 60.00 = 2880.00
    assert await figures(third["settlement_id"]) == ("60.00", "120.00", "2880.00", False)


async def test_balance_is_not_guessed_after_the_person_was_rewritten(hospital, app, db):
    s = await settle(hospital, body(EMPLOYEE, "MZ-SLIP-P", "11", OUTPATIENT_ITEMS), "slip-p")
    # an admin write after the settlement (PUT /v1/persons sets updated_at) may have set any balance
    await db.execute("UPDATE persons SET account_balance = 5000, updated_at = now() + interval '1 second' "
                     "WHERE person_id = $1", EMPLOYEE)  # fmt: skip
    text = cells((await hospital.get(f"/v1/settlements/{s['settlement_id']}/slip")).text)
    assert pair(text, "个人账户余额") == "—"
    assert "余额以查询为准" in text and "5000" not in text


PDFTOTEXT = shutil.which("pdftotext")


@pytest.mark.skipif(PDFTOTEXT is None and os.environ.get("CI") != "true", reason="poppler-utils is not installed")
async def test_pdf_contains_every_amount_and_reversal(hospital, ops):
    s = await settle(hospital, body(POOR, "ZY-SLIP-1", "21", INPATIENT_ITEMS, "2026-11-25"), "slip-pdf")
    t = s["totals"]
    # total 500.00 + 600.00 + 5000.00 + 1000.00 = 7100.00; pre-self-pay 60.00 + 500.00 = 560.00;
    # in scope 500.00 + 540.00 + 4500.00 = 5540.00; deductible 1000.00 (level 3, per encounter);
    # basic (5540.00 − 1000.00) × 70 % = 3178.00
    assert (t["total"], t["pre_self_pay"], t["in_scope"], t["deductible"], t["basic_fund"]) == (
        "7100.00", "560.00", "5540.00", "1000.00", "3178.00")  # fmt: skip
    assert s["totals"]["medical_aid"] != "0.00"  # 低保: medical aid paid too

    r = await ops.get(f"/v1/settlements/{s['settlement_id']}/slip?format=pdf")
    assert r.status_code == 200 and pdf_pages(r.content) == 1
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    text = pdf_text(r.content)
    assert "东莞市基本医疗保险一站式结算单" in text
    for name in ("total", "self_pay_full", "pre_self_pay", "in_scope", "deductible", "basic_fund",
                 "critical_illness", "medical_aid", "secondary_aid", "fund_total", "personal_total", "cash"):  # fmt: skip
        assert t[name] in text, name
    for line in s["funds"]:
        assert line["amount"] in text
    assert capital_amount(__import__("decimal").Decimal(t["fund_total"])) in text.replace(" ", "")
    assert "最低生活保障对象" in text and "已撤销" not in text
    # policy items: every fund line's explanation, its aid category in Chinese
    page = cells((await ops.get(f"/v1/settlements/{s['settlement_id']}/slip")).text)
    aid = next(line for line in s["funds"] if line["fund"] == "medical_aid")
    assert "minimum_living" in aid["explanation"]
    assert aid["explanation"].replace("minimum_living", "最低生活保障对象") in page

    # Accept: application/pdf works as ?format=pdf; A5 is A5 (148 × 210 mm = 419.53 × 595.28 pt)
    r = await hospital.get(f"/v1/settlements/{s['settlement_id']}/slip?paper=A5", headers={"Accept": "application/pdf"})
    assert r.headers["content-type"] == "application/pdf"
    assert b"/MediaBox [0 0 419.53 595.28]" in r.content
    assert pdf_pages(r.content) == 1
    a5 = pdf_text(r.content)
    assert t["fund_total"] in a5 and t["personal_total"] in a5

    assert (await hospital.post(f"/v1/settlements/{s['settlement_id']}/reversal")).status_code == 201
    text = pdf_text((await hospital.get(f"/v1/settlements/{s['settlement_id']}/slip?format=pdf")).content)
    assert "已撤销" in text and t["fund_total"] in text


async def test_institution_gets_its_own_slips_only(hospital, other_hospital, ops, client):
    s = await settle(hospital, body(EMPLOYEE, "MZ-SLIP-T", "11", OUTPATIENT_ITEMS), "slip-t")
    url = f"/v1/settlements/{s['settlement_id']}/slip"
    r = await other_hospital.get(url)
    assert r.status_code == 404 and r.json()["code"] == "settlement_not_found"
    assert (await other_hospital.get(url + "?format=pdf")).status_code == 404
    assert (await ops.get(url)).status_code == 200
    assert (await client.get(url)).status_code == 401
    r = await hospital.get("/v1/settlements/0190f5b2-0000-7000-8000-000000000000/slip")
    assert r.status_code == 404 and r.json()["code"] == "settlement_not_found"
    assert (await hospital.get(url + "?format=docx")).status_code == 422


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium is not installed")
@pytest.mark.parametrize(("paper", "size"), [("A4", "1240,1754"), ("A5", "874,1240")])
async def test_html_renders_in_chromium(hospital, paper, size):
    assert CHROMIUM is not None, "CI needs chromium (apt-get install chromium)"
    s = await settle(hospital, body(POOR, f"ZY-SLIP-{paper}", "21", INPATIENT_ITEMS, "2026-11-25"), f"slip-{paper}")
    await hospital.post(f"/v1/settlements/{s['settlement_id']}/reversal")
    page = (await hospital.get(f"/v1/settlements/{s['settlement_id']}/slip?paper={paper}")).text
    ARTIFACTS.mkdir(exist_ok=True)
    png = ARTIFACTS / f"slip-{paper}.png"
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        html_file = Path(tmp) / "slip.html"
        html_file.write_text(page, encoding="utf-8")
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp}/profile", "--hide-scrollbars", f"--window-size={size}",
             f"--screenshot={png}", html_file.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        printed = ARTIFACTS / f"slip-{paper}-printed.pdf"
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp}/profile2", "--no-pdf-header-footer", f"--print-to-pdf={printed}",
             html_file.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        info = subprocess.run(["pdfinfo", str(printed)], check=True, capture_output=True, text=True).stdout
    # printed from the browser, the slip is one page of the paper it was asked for
    assert re.search(r"Pages:\s+1\n", info), info
    assert f"({paper})" in info, info
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == tuple(int(n) for n in size.split(","))
        pixels = list(image.convert("RGB").get_flattened_data())
        dark = sum(1 for p in pixels if sum(p) < 384)  # text and rules (anti-aliased, so not only black)
        red = sum(1 for p in pixels if p[0] > 150 and p[1] < 60 and p[2] < 60)
    assert dark > 8000  # a blank page has none; the A5 slip measured ~15,700, the A4 ~36,300
    assert red > 200  # the 已撤销 stamp


async def test_the_slip_ships_in_the_package() -> None:
    """A non-editable install (the Dockerfile's `pip install .`) carries the slip and its template."""
    import tomllib

    from setuptools import find_packages

    root = Path(__file__).resolve().parents[2]
    assert "app.settlement" in find_packages(str(root), include=["app*"])
    data = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["package-data"]["app"]
    assert [p for pattern in data for p in (root / "app").glob(pattern)] == [root / "app/settlement/templates/slip.html"]


@pytest.mark.parametrize(
    ("format_", "accept", "pdf"),
    [
        (None, None, False),
        (None, "application/pdf", True),
        (None, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a browser
        (None, "application/pdf, */*", True),  # named beats the wildcard
        (None, "text/html, application/pdf;q=0.5", False),
        (None, "text/html;q=0.5, application/pdf", True),
        (None, "application/pdf;q=0", False),
        ("html", "application/pdf", False),  # ?format= decides
        ("pdf", "text/html", True),
    ],
)
async def test_format_negotiation(format_, accept, pdf) -> None:
    from app.settlement.slip_router import _wants_pdf

    assert _wants_pdf(format_, accept) is pdf

