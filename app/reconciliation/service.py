"""Reconciliation 对账: totals (3201) and details (3202) of an institution's period.

Both compare the institution's figures with the centre's records (app.reconciliation
.repository). Amounts are compared exactly: Decimal for totals, integer cents for details
(a detail file of 1,000,000 records is parsed into cents without a Decimal per field).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.kit.auth import Principal
from app.reconciliation import repository
from app.reconciliation.exceptions import (
    BodyTooLarge,
    DuplicateRecord,
    FileInvalid,
    InstitutionRequired,
    InvalidPeriod,
    NotYourInstitution,
)
from app.reconciliation.schemas import STMT_RSLT_DSCR, Figures, TotalsRowIn, TotalsRowOut

ZERO = Decimal("0")

#: The longest period one request may reconcile (a year and a day: any calendar year fits).
MAX_PERIOD_DAYS = 366
MAX_RECORDS = 1_000_000
MAX_BODY_BYTES = 256 * 1024 * 1024

DETAIL_FIELDS = (
    "settlement_id", "encounter_id", "person_id", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag",
)  # fmt: skip
DIFF_CSV_HEADER = (
    "settlement_id,refd_setl_flag,kind,stmt_rslt,center_medfee_sumamt,center_fund_pay_sumamt,center_acct_pay,"
    "institution_medfee_sumamt,institution_fund_pay_sumamt,institution_acct_pay"
)


# --------------------------------------------------------------------------- who and when


def institution_for(principal: Principal, requested: str | None) -> str:
    """The institution a caller may reconcile: an institution itself only (another
    institution's code is 403), ops and admin any named one."""
    if principal.role == "institution":
        if requested is not None and requested != principal.institution_code:
            raise NotYourInstitution("An institution key reconciles and reports on its own institution only.")
        assert principal.institution_code is not None
        return principal.institution_code
    if requested is None:
        raise InstitutionRequired("Name the institution: `institution_code`.")
    return requested


def check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise InvalidPeriod("`date_to` is before `date_from`.")
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise InvalidPeriod(f"A period is at most {MAX_PERIOD_DAYS} days.")


# --------------------------------------------------------------------------- totals (3201)


def stmt_rslt(center: tuple[Any, ...], institution: tuple[Any, ...]) -> str:
    """0 all equal; 1 中心多 every centre figure ≥ and one greater; 2 医药机构多 every
    centre figure ≤ and one smaller; 3 数据不一致 otherwise."""
    if center == institution:
        return "0"
    if all(c >= i for c, i in zip(center, institution, strict=True)):
        return "1"
    if all(c <= i for c, i in zip(center, institution, strict=True)):
        return "2"
    return "3"


async def reconcile_totals(
    conn: AsyncSession | AsyncConnection,
    institution_code: str,
    date_from: dt.date,
    date_to: dt.date,
    rows: Iterable[TotalsRowIn | Mapping[str, Any]],
    setl_optins: str | None = None,
) -> list[TotalsRowOut]:
    """3201 for one institution and period: one answer per row, in order.

    A plain function for any caller (the HTTP route, the national-interface adapter):
    ``setl_optins`` (the insured region of the person, 结算经办机构) narrows the centre's
    records to persons insured there. Reads only; stores nothing.
    """
    check_period(date_from, date_to)
    parsed = [r if isinstance(r, TotalsRowIn) else TotalsRowIn.model_validate(r) for r in rows]
    start, end = repository.period(date_from, date_to)
    found = await repository.center_totals(conn, institution_code, start, end, setl_optins)
    sums: dict[tuple[str, str, bool], tuple[Decimal, Decimal, Decimal, int]] = {
        (r.insutype, r.clr_type, r.reversal): (r.medfee, r.fund, r.acct, int(r.n)) for r in found
    }
    out = []
    for row in parsed:
        medfee, fund, acct, count = sums.get((row.insutype, row.clr_type, False), (ZERO, ZERO, ZERO, 0))
        if row.include_reversals:
            r_medfee, r_fund, r_acct, r_count = sums.get((row.insutype, row.clr_type, True), (ZERO, ZERO, ZERO, 0))
            medfee, fund, acct, count = medfee + r_medfee, fund + r_fund, acct + r_acct, count + r_count
        center = (medfee, fund, acct, count)
        institution = (row.medfee_sumamt, row.fund_pay_sumamt, row.acct_pay, row.count)
        result = stmt_rslt(center, institution)
        out.append(
            TotalsRowOut(
                insutype=row.insutype,
                clr_type=row.clr_type,
                stmt_rslt=result,  # type: ignore[arg-type]
                stmt_rslt_dscr=STMT_RSLT_DSCR[result],
                institution=Figures(
                    medfee_sumamt=row.medfee_sumamt, fund_pay_sumamt=row.fund_pay_sumamt,
                    acct_pay=row.acct_pay, count=row.count,
                ),
                center=Figures(medfee_sumamt=medfee, fund_pay_sumamt=fund, acct_pay=acct, count=count),
            )
        )  # fmt: skip
    return out


# --------------------------------------------------------------------------- details (3202): the file

_AMOUNT = re.compile(r"(-?)(\d{1,12})(?:\.(\d{1,2}))?")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


def cents(value: str, name: str, line: int) -> int:
    m = _AMOUNT.fullmatch(value)
    if m is None:
        raise FileInvalid(line, f"{name} is not an amount with at most two decimals")
    sign, whole, frac = m.groups()
    c = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    return -c if sign else c


_FIELD = r"([^{d}\"\x00-\x1f\x7f]{{1,64}})"
_AMT = r"(-?\d{{1,12}}(?:\.\d{{1,2}})?)"
_FAST_LINE = {
    kind: re.compile(
        (r"([0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}){d}" + _FIELD + "{d}"
         + _FIELD + "{d}" + _AMT + "{d}" + _AMT + "{d}" + _AMT + "{d}([01])\r?").format(d=d)
    )
    for kind, d in (("csv", ","), ("tsv", "\t"))
}  # fmt: skip


def _fast_cents(s: str) -> int:
    """An amount already matched by ``_AMT`` → cents: "-12.5" → -1250."""
    i = s.find(".")
    if i < 0:
        return int(s) * 100
    frac = s[i + 1 :]
    return int(s[:i] + (frac if len(frac) == 2 else frac + "0"))


def money_text(c: int) -> str:
    sign = "-" if c < 0 else ""
    c = abs(c)
    return f"{sign}{c // 100}.{c % 100:02d}"


@dataclass(slots=True)
class DetailFile:
    """The institution's records: (settlement_id, flag) → (line, medfee, fund, acct) in cents."""

    records: dict[tuple[str, str], tuple[int, int, int, int]] = field(default_factory=dict)
    lines: int = 0


def _record(fields: list[str], line: int, out: DetailFile) -> None:
    sid, encounter_id, person_id, medfee, fund, acct, flag = fields
    if _UUID.fullmatch(sid) is None:
        raise FileInvalid(line, "settlement_id is not a settlement id")
    if _TEXT.fullmatch(encounter_id) is None:
        raise FileInvalid(line, "encounter_id must be 1 to 64 printable characters")
    if _TEXT.fullmatch(person_id) is None:
        raise FileInvalid(line, "person_id must be 1 to 64 printable characters")
    if flag != "0" and flag != "1":
        raise FileInvalid(line, 'refd_setl_flag must be "0" or "1"')
    key = (sid.lower(), flag)
    if key in out.records:
        raise DuplicateRecord(
            line, f"settlement_id and refd_setl_flag repeat line {out.records[key][0]}"
        )
    if len(out.records) >= MAX_RECORDS:
        raise BodyTooLarge(f"line {line}: more than {MAX_RECORDS:,} records", errors=[
            {"loc": ["body", "line", line], "msg": f"more than {MAX_RECORDS:,} records"}
        ])  # fmt: skip
    out.records[key] = (
        line, cents(medfee, "medfee_sumamt", line), cents(fund, "fund_pay_sumamt", line), cents(acct, "acct_pay", line)
    )  # fmt: skip


class _Parser:
    """Lines of a CSV / TSV / NDJSON body, fed chunk by chunk."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # csv | tsv | ndjson
        self.out = DetailFile()
        self.line = 0
        self.pending = b""
        self.header_seen = kind == "ndjson"

    def feed(self, chunk: bytes, final: bool = False) -> None:
        data = self.pending + chunk
        if final:
            self.pending = b""
        else:
            cut = data.rfind(b"\n")
            if cut < 0:
                self.pending = data
                return
            data, self.pending = data[: cut + 1], data[cut + 1 :]
        if not data:
            return
        first = self.line + 1
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = first + data[: exc.start].count(b"\n")
            raise FileInvalid(bad, "not UTF-8 text") from None
        if self.line == 0 and decoded.startswith("\ufeff"):
            decoded = decoded[1:]
        lines = decoded.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if self.kind == "ndjson":
            self._ndjson(lines)
        else:
            self._delimited(lines)

    def _delimited(self, lines: list[str]) -> None:
        """Each line is matched whole by one expression (the common case: plain fields, amounts
        already valid) and only a line it does not match goes through the csv module and the
        per-field checks, which name what is wrong. Amounts become cents by string surgery."""
        fast = _FAST_LINE[self.kind]
        records = self.out.records
        line = self.line
        for text_line in lines:
            line += 1
            if self.header_seen:
                m = fast.fullmatch(text_line)
                if m is not None:
                    sid, _eid, _pid, a, b, c, flag = m.groups()
                    key = (sid.lower(), flag)
                    if key not in records and len(records) < MAX_RECORDS:
                        records[key] = (line, _fast_cents(a), _fast_cents(b), _fast_cents(c))
                        continue
            self.line = line - 1
            self._slow(text_line)
            line = self.line
        self.line = line

    def _slow(self, text_line: str) -> None:
        delimiter = "," if self.kind == "csv" else "\t"
        self.line += 1
        try:
            rows = list(csv.reader([text_line.rstrip("\r")], delimiter=delimiter, strict=True))
        except csv.Error:
            raise FileInvalid(self.line, "not a valid delimited line") from None
        fields = rows[0] if rows else []
        if not self.header_seen:
            if [f.strip() for f in fields] != list(DETAIL_FIELDS):
                raise FileInvalid(self.line, "the header must be " + ",".join(DETAIL_FIELDS))
            self.header_seen = True
            return
        if not fields or fields == [""]:
            return  # a blank line
        if len(fields) != 7:
            raise FileInvalid(self.line, f"expected 7 fields, found {len(fields)}")
        _record(fields, self.line, self.out)

    def _ndjson(self, lines: list[str]) -> None:
        for text_line in lines:
            self.line += 1
            if not text_line.strip():
                continue
            try:
                obj = json.loads(text_line, parse_float=str, parse_int=str)
            except ValueError:
                raise FileInvalid(self.line, "not a JSON object") from None
            if not isinstance(obj, dict) or set(obj) != set(DETAIL_FIELDS):
                raise FileInvalid(self.line, "an object with exactly the keys " + ", ".join(DETAIL_FIELDS))
            fields = [obj[k] for k in DETAIL_FIELDS]
            if not all(isinstance(v, str) for v in fields):
                raise FileInvalid(self.line, "every value must be a string or a number")
            _record(fields, self.line, self.out)

    def finish(self) -> DetailFile:
        self.feed(b"", final=True)
        if not self.header_seen:
            raise FileInvalid(1, "the header must be " + ",".join(DETAIL_FIELDS))
        self.out.lines = self.line
        return self.out


MEDIA_KINDS = {"text/csv": "csv", "text/tab-separated-values": "tsv", "application/x-ndjson": "ndjson"}


async def read_detail_file(chunks: AsyncIterator[bytes], kind: str, limit: int = MAX_BODY_BYTES) -> DetailFile:
    """Parse a streamed body; stops reading at ``limit`` bytes (413 naming the line)."""
    parser = _Parser(kind)
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            line = parser.line + 1
            raise BodyTooLarge(
                f"line {line}: the body is larger than {limit // (1024 * 1024)} MiB",
                errors=[{"loc": ["body", "line", line], "msg": "the body is too large"}],
            )
        if chunk:
            parser.feed(chunk)
    return parser.finish()


def parse_detail_bytes(body: bytes, kind: str) -> DetailFile:
    parser = _Parser(kind)
    parser.feed(body)
    return parser.finish()


# --------------------------------------------------------------------------- details (3202): the comparison


@dataclass(slots=True)
class DetailsResult:
    summary: dict[str, int]
    #: (settlement_id, flag, kind, stmt_rslt, center cents | None, institution cents | None)
    differences: list[tuple[str, str, str, str, tuple[int, int, int] | None, tuple[int, int, int] | None]]


def compare(center: Iterable[Any], institution: DetailFile) -> DetailsResult:
    mine = dict(institution.records)
    center_n = matched = only_center = differ = 0
    diffs: list[Any] = []
    for sid, flag, _eid, _pid, medfee, fund, acct in center:
        center_n += 1
        theirs = mine.pop((sid, flag), None)
        ours = (medfee, fund, acct)
        if theirs is None:
            only_center += 1
            diffs.append((sid, flag, "only_center", "1", ours, None))
        elif theirs[1:] == ours:
            matched += 1
        else:
            differ += 1
            diffs.append((sid, flag, "amounts_differ", "3", ours, theirs[1:]))
    for (sid, flag), theirs in mine.items():
        diffs.append((sid, flag, "only_institution", "2", None, theirs[1:]))
    diffs.sort(key=lambda d: (d[0], d[1]))
    summary = {
        "institution_records": len(institution.records),
        "center_records": center_n,
        "matched": matched,
        "only_center": only_center,
        "only_institution": len(mine),
        "amounts_differ": differ,
    }
    return DetailsResult(summary, diffs)


async def reconcile_details(
    conn: AsyncSession | AsyncConnection,
    institution_code: str,
    date_from: dt.date,
    date_to: dt.date,
    institution: DetailFile,
) -> DetailsResult:
    check_period(date_from, date_to)
    start, end = repository.period(date_from, date_to)
    center = await repository.center_records(conn, institution_code, start, end)
    return compare(center, institution)


def _amounts(c: tuple[int, int, int] | None) -> dict[str, str] | None:
    if c is None:
        return None
    return {"medfee_sumamt": money_text(c[0]), "fund_pay_sumamt": money_text(c[1]), "acct_pay": money_text(c[2])}


def details_json(result: DetailsResult) -> dict[str, Any]:
    return {
        "summary": result.summary,
        "differences": [
            {"settlement_id": sid, "refd_setl_flag": flag, "kind": kind, "stmt_rslt": rslt,
             "center": _amounts(c), "institution": _amounts(i)}
            for sid, flag, kind, rslt, c, i in result.differences
        ],
    }  # fmt: skip


def details_csv(result: DetailsResult) -> str:
    buf = io.StringIO()
    buf.write(DIFF_CSV_HEADER + "\n")
    empty = ("", "", "")
    for sid, flag, kind, rslt, c, i in result.differences:
        cc = tuple(money_text(x) for x in c) if c else empty
        ii = tuple(money_text(x) for x in i) if i else empty
        buf.write(",".join((sid, flag, kind, rslt, *cc, *ii)) + "\n")
    return buf.getvalue()
