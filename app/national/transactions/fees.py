"""Fee detail upload shared by 2204 (outpatient, in batches ``chrg_bchno``) and 2301
(inpatient): store the lines and answer each line's classification."""

from __future__ import annotations

from typing import Any

import asyncpg

from app.national import answers, ports
from app.national import repository as repo
from app.national.exceptions import refusal
from app.national.jsontext import money
from app.national.schemas import FeeLine
from app.national.service import (
    Message,
    Output,
    encounter,
    logged,
    node_list,
    not_settled,
    settlement_request,
)


async def upload_message(msg: Message, *, kind: str, batch_required: bool) -> Output:
    """A fee detail upload message (2204 outpatient, 2301 inpatient): its ``feedetail`` lines
    stored on their encounter of ``kind``, which must have nothing settled → ``output.result``.
    ``batch_required``: every line must name its batch ``chrg_bchno`` (outpatient)."""
    lines = node_list(msg, FeeLine, "feedetail")
    if not lines:
        raise refusal("validation_error", "input.feedetail: at least one line")
    mdtrt_id = lines[0].mdtrt_id
    if not mdtrt_id:
        raise refusal("validation_error", "feedetail.mdtrt_id: required")

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, mdtrt_id, kind=kind, for_update=True)
        await not_settled(msg, mdtrt_id)
        return {"result": await upload(msg, row, lines, batch_required=batch_required)}, mdtrt_id, None

    return await logged(msg, work)


async def upload(msg: Message, row: asyncpg.Record, lines: list[FeeLine], *, batch_required: bool) -> list[dict[str, Any]]:
    """Store ``lines`` on the encounter ``row`` and answer the per-line ``result``."""
    mdtrt_id = row["mdtrt_id"]
    existing = {r["feedetl_sn"]: r for r in await repo.lines(msg.conn, msg.institution_code, mdtrt_id)}
    seen: set[str] = set()
    line_no = await repo.next_line_no(msg.conn, msg.institution_code, mdtrt_id)
    rows: list[dict[str, Any]] = []
    for line in lines:
        if line.mdtrt_id is not None and line.mdtrt_id != mdtrt_id:
            raise refusal("validation_error", "feedetail: every line must name the same mdtrt_id")
        if line.psn_no is not None and line.psn_no != row["person_id"]:
            raise refusal("person_mismatch", "psn_no is not the person of this mdtrt_id")
        if batch_required and not line.chrg_bchno:
            raise refusal("validation_error", "feedetail.chrg_bchno: required")
        if line.feedetl_sn in existing or line.feedetl_sn in seen:
            raise refusal("fee_line_duplicate", f"feedetl_sn {line.feedetl_sn} is already uploaded")
        seen.add(line.feedetl_sn)
        refund = line.init_feedetl_sn is not None
        if refund:
            if line.init_feedetl_sn not in existing and line.init_feedetl_sn not in seen:
                raise refusal("fee_line_not_found", f"init_feedetl_sn {line.init_feedetl_sn} is not an uploaded line")
            if line.cnt >= 0:
                raise refusal("validation_error", "feedetail.cnt: a refund line has a negative cnt")
        elif line.cnt <= 0:
            raise refusal("validation_error", "feedetail.cnt: must be positive (refunds name init_feedetl_sn)")
        if line.pric < 0:
            raise refusal("validation_error", "feedetail.pric: must not be negative")
        rows.append({
            "institution_code": msg.institution_code, "mdtrt_id": mdtrt_id, "feedetl_sn": line.feedetl_sn,
            "line_no": line_no, "chrg_bchno": line.chrg_bchno, "init_feedetl_sn": line.init_feedetl_sn,
            "med_list_codg": line.med_list_codg, "medins_list_codg": line.medins_list_codg, "cnt": line.cnt,
            "pric": line.pric, "det_item_fee_sumamt": money(line.cnt * line.pric), "fee_ocur_time": line.fee_ocur_time,
            "msgid": msg.msgid,
        })  # fmt: skip
        line_no += 1
    # 2204 may name the batch's special disease (one dise_codg per batch) when 2203 did not.
    disease = next((line.dise_codg for line in lines if line.dise_codg), None)
    if disease is not None and row["dise_codg"] is None:
        await repo.update_encounter(msg.conn, msg.institution_code, mdtrt_id, dise_codg=disease)
        row = {**dict(row), "dise_codg": disease}
    classified = await classify(msg, row, rows)
    await repo.insert_lines(msg.conn, rows)
    return [
        answers.line_result(c, r["feedetl_sn"], refund=r["init_feedetl_sn"] is not None)
        for c, r in zip(classified, rows, strict=True)
    ]


async def classify(msg: Message, row: asyncpg.Record | dict[str, Any], rows: list[dict[str, Any]]) -> list[ports.ClassifiedLine]:
    """The lines as the engine would itemise them in this encounter (a refund line by its
    size). Before 2203 names the med_type: 11 (outpatient) or 21 (inpatient); a 14
    without its disease yet is classified as 11."""
    med_type = row["med_type"] if row["med_type"] in ("11", "14", "21", "41") else (
        "21" if row["kind"] == "inpatient" else "11")  # fmt: skip
    if med_type == "14" and not row["dise_codg"]:
        med_type = "11"
    request = settlement_request(
        msg,
        person_id=row["person_id"],
        encounter_id=row["mdtrt_id"],
        med_type=med_type,
        encounter_date=msg.day,
        diagnoses=list(row["diagnoses"]),
        special_disease=row["dise_codg"] if med_type == "14" else None,
        items=[
            {"line_no": r["line_no"], "code": r["med_list_codg"], "qty": abs(r["cnt"]), "unit_price": r["pric"]}
            for r in rows
        ],
    )
    return await ports.classify(msg.conn, msg.state, request)
