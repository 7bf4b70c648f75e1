"""Outpatient 门诊: 2201 registration, 2202 its undo, 2203 visit information (diagnoses),
2204 / 2205 fee upload and its undo, 2206 pre-settlement, 2207 settlement, 2208 reversal."""

from __future__ import annotations

from typing import Any

from app.kit.clock import CST
from app.national import repository as repo
from app.national.exceptions import refusal
from app.national.schemas import Diagnosis, EncounterRef, FeeUndo, Registration, ReversalData, SettleData, VisitInfo
from app.national.service import (
    Message,
    Output,
    check_medfee,
    check_person,
    encounter,
    logged,
    new_mdtrt_id,
    node,
    node_list,
    not_settled,
    parse_setl_id,
    person_by_credential,
    preview_message,
    replay,
    reverse_settlement,
    settle_message,
    settlement_items,
    settlement_request,
)
from app.national.transactions import fees
from app.settlement.schemas import SettlementRequest


async def register(msg: Message) -> Output:
    """2201 门诊挂号 → ``output.data.mdtrt_id``."""
    data = node(msg, Registration, "data")

    async def work() -> tuple[dict[str, Any], str, None]:
        person = await person_by_credential(msg, data.mdtrt_cert_type, data.mdtrt_cert_no, data.psn_no)
        mdtrt_id = new_mdtrt_id(msg)
        await repo.insert_encounter(
            msg.conn, institution_code=msg.institution_code, mdtrt_id=mdtrt_id, kind="outpatient",
            person_id=person.person_id, insutype=data.insutype, begntime=data.begntime, ipt_otp_no=data.ipt_otp_no,
            msgid=msg.msgid,
        )  # fmt: skip
        output = {"data": {"mdtrt_id": mdtrt_id, "psn_no": person.person_id, "ipt_otp_no": data.ipt_otp_no,
                           "exp_content": None}}  # fmt: skip
        return output, mdtrt_id, None

    return await logged(msg, work)


async def unregister(msg: Message) -> Output:
    """2202 门诊挂号撤销: only with nothing settled."""
    data = node(msg, EncounterRef, "data")

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, data.mdtrt_id, kind="outpatient", for_update=True)
        check_person(row, data.psn_no)
        await not_settled(msg, data.mdtrt_id)
        await repo.update_encounter(msg.conn, msg.institution_code, data.mdtrt_id, status="cancelled")
        return {}, data.mdtrt_id, None

    return await logged(msg, work)


def diagnoses_of(rows: list[Diagnosis]) -> list[str]:
    """Valid diagnoses (``vali_flag`` not 0), the main one first, then by ``diag_srt_no``."""
    def order(d: Diagnosis) -> tuple[int, int]:
        main = 0 if d.maindiag_flag == "1" else 1
        srt = int(d.diag_srt_no) if d.diag_srt_no and d.diag_srt_no.isdigit() else 99
        return main, srt

    codes: list[str] = []
    for d in sorted((d for d in rows if d.vali_flag != "0"), key=order):
        if d.diag_code not in codes:
            codes.append(d.diag_code)
    return codes[:50]


async def visit_info(msg: Message) -> Output:
    """2203 门诊就诊信息上传: med_type, diagnoses (``diseinfo``), special disease (``dise_codg``)."""
    info = node(msg, VisitInfo, "mdtrtinfo", "data")
    diseases = node_list(msg, Diagnosis, "diseinfo", required=False)

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, info.mdtrt_id, kind="outpatient", for_update=True)
        check_person(row, info.psn_no)
        await not_settled(msg, info.mdtrt_id)
        changes: dict[str, Any] = {"diagnoses": diagnoses_of(diseases), "dise_codg": info.dise_codg}
        if info.med_type:
            changes["med_type"] = info.med_type
        if info.begntime:
            changes["begntime"] = info.begntime
        await repo.update_encounter(msg.conn, msg.institution_code, info.mdtrt_id, **changes)
        return {}, info.mdtrt_id, None

    return await logged(msg, work)


async def upload_fees(msg: Message) -> Output:
    """2204 门诊费用明细信息上传 → ``output.result``, one row per line."""
    return await fees.upload_message(msg, kind="outpatient", batch_required=True)


async def undo_fees(msg: Message) -> Output:
    """2205 门诊费用明细信息撤销: a batch, or every unsettled line with ``"0000"``."""
    data = node(msg, FeeUndo, "data")
    if not data.chrg_bchno:
        raise refusal("validation_error", "input.data.chrg_bchno: required")

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, data.mdtrt_id, kind="outpatient", for_update=True)
        check_person(row, data.psn_no)
        await not_settled(msg, data.mdtrt_id)
        batch = None if data.chrg_bchno == "0000" else data.chrg_bchno
        removed = await repo.delete_lines(msg.conn, msg.institution_code, data.mdtrt_id, chrg_bchno=batch)
        if batch is not None and removed == 0:
            raise refusal("fee_batch_not_found", "no uploaded lines in this chrg_bchno")
        return {}, data.mdtrt_id, None

    return await logged(msg, work)


async def _request(msg: Message, data: SettleData) -> SettlementRequest:
    row = await encounter(msg, data.mdtrt_id, kind="outpatient")
    check_person(row, data.psn_no)
    # The batch named; without one (it is required, but some HIS leave it out) every line.
    rows = list(await repo.lines(msg.conn, msg.institution_code, data.mdtrt_id, data.chrg_bchno))
    if not rows:
        raise refusal("fee_batch_not_found", "no uploaded lines to settle (chrg_bchno)")
    med_type = data.med_type or row["med_type"] or "11"
    request = settlement_request(
        msg,
        person_id=row["person_id"],
        encounter_id=data.mdtrt_id,
        med_type=med_type,
        insutype=data.insutype or row["insutype"],
        encounter_date=row["begntime"].astimezone(CST).date(),
        diagnoses=list(row["diagnoses"]),
        special_disease=row["dise_codg"] if med_type == "14" else None,
        use_personal_account=data.acct_used_flag != "0",
        items=settlement_items(rows),
    )
    check_medfee(request, data.medfee_sumamt)
    return request


async def preview(msg: Message) -> Output:
    """2206 门诊预结算."""
    data = node(msg, SettleData, "data")
    request = await _request(msg, data)
    return await preview_message(msg, request, mdtrt_id=data.mdtrt_id, mdtrt_cert_type=data.mdtrt_cert_type)


async def settle(msg: Message) -> Output:
    """2207 门诊结算 (``msgid`` is the idempotency key)."""
    data = node(msg, SettleData, "data")
    stored = await replay(msg)  # a retry is answered before anything is re-read
    if stored is not None:
        return stored
    request = await _request(msg, data)
    return await settle_message(msg, request, mdtrt_id=data.mdtrt_id, mdtrt_cert_type=data.mdtrt_cert_type)


async def reverse(msg: Message) -> Output:
    """2208 门诊结算撤销 → the settlement's record, negated."""
    data = node(msg, ReversalData, "data")
    settlement_id = parse_setl_id(data.setl_id)

    async def work() -> tuple[dict[str, Any], str, Any]:
        return await reverse_settlement(msg, settlement_id, mdtrt_id=data.mdtrt_id, psn_no=data.psn_no)

    return await logged(msg, work)
