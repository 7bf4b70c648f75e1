"""The detail-file parser alone: both of its paths give the same records, in cents."""

from __future__ import annotations

import asyncio

import pytest

from app.reconciliation import service
from app.reconciliation.exceptions import BodyTooLarge, DuplicateRecord, FileInvalid

SID1 = "0190d6a4-0000-7000-8000-000000000001"
SID2 = "0190D6A4-0000-7000-8000-000000000002"  # upper case: matched as lower case
HEADER = "settlement_id,encounter_id,person_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag"


def test_plain_quoted_crlf_bom_and_blank_lines_agree():
    body = (
        "\ufeff" + HEADER + "\r\n"
        f"{SID1},E1,P1,12.5,-0.05,0,0\r\n"  # fast path: 1250, -5, 0 cents
        "\r\n"  # blank
        f'"{SID2}","E,2","P2",100,60.00,-1.50,1\n'  # quoted, a comma inside: the csv path
    ).encode()
    parsed = service.parse_detail_bytes(body, "csv")
    assert parsed.records == {(SID1, "0"): (2, 1250, -5, 0), (SID2.lower(), "1"): (4, 10000, 6000, -150)}
    tsv = service.parse_detail_bytes(body.decode("utf-8-sig").replace(",", "\t").replace('"E\t2"', "E2").encode(),
                                     "tsv")  # fmt: skip
    assert tsv.records[(SID1, "0")] == (2, 1250, -5, 0)


def test_streamed_in_small_chunks_is_the_same():
    lines = [HEADER] + [f"0190d6a4-0000-7000-8000-{n:012d},E{n},P{n},{n}.{n % 100:02d},1,0,0" for n in range(500)]
    body = ("\n".join(lines) + "\n").encode()

    async def chunks():
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    streamed = asyncio.run(service.read_detail_file(chunks(), "csv"))
    assert streamed.records == service.parse_detail_bytes(body, "csv").records
    assert streamed.records[("0190d6a4-0000-7000-8000-000000000499", "0")] == (501, 49999, 100, 0)


@pytest.mark.parametrize(
    ("text", "line", "error"),
    [
        ("nonsense\n", 1, FileInvalid),
        (HEADER + f"\n{SID1},E1,P1,1,2,3\n", 2, FileInvalid),  # 6 fields
        (HEADER + f"\n{SID1},E1,P1,1e3,2,3,0\n", 2, FileInvalid),
        (HEADER + f"\n{SID1},E1,P1,1,2,3,0\n{SID1},E1,P1,1,2,3,0\n", 3, DuplicateRecord),
        (HEADER + f"\n{SID1},,P1,1,2,3,0\n", 2, FileInvalid),  # empty encounter_id
        (HEADER + f'\n{SID1},"E1\x01",P1,1,2,3,0\n', 2, FileInvalid),  # control character
    ],
)
def test_bad_lines_are_named(text, line, error):
    with pytest.raises(error) as caught:
        service.parse_detail_bytes(text.encode(), "csv")
    assert caught.value.line == line and caught.value.detail.startswith(f"line {line}:")


def test_record_limit(monkeypatch):
    monkeypatch.setattr(service, "MAX_RECORDS", 1)
    with pytest.raises(BodyTooLarge):
        service.parse_detail_bytes((HEADER + f"\n{SID1},E,P,1,1,1,0\n{SID1},E,P,1,1,1,1\n").encode(), "csv")
