"""Inpatient 住院: 2401 admission, 2402 discharge, 2403 admission change, 2404 / 2405 their undo, 2301 / 2302
fee upload and its undo, 2303 pre-settlement, 2304 settlement, 2305 reversal."""

from __future__ import annotations

from typing import Any

from app.kit.clock import CST
from app.national import repository as repo
from app.national.exceptions import refusal
from app.national.schemas import Admission, AdmissionChange, Diagnosis, Discharge, EncounterRef, FeeUndo, ReversalData, SettleData
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
from app.national.transactions.outpatient import diagnoses_of
from app.settlement.schemas import SettlementRequest


async def admit(msg: Message) -> Output:
    """2401 入院办理 → ``output.result.mdtrt_id``; diagnoses from ``diseinfo``."""
    info = node(msg, Admission, "mdtrtinfo", "data")
    diseases = node_list(msg, Diagnosis, "diseinfo", required=False)

    async def work() -> tuple[dict[str, Any], str, None]:
        person = await person_by_credential(msg, info.mdtrt_cert_type, info.mdtrt_cert_no, info.psn_no)
        mdtrt_id = new_mdtrt_id(msg)
        await repo.insert_encounter(
            msg.conn, institution_code=msg.institution_code, mdtrt_id=mdtrt_id, kind="inpatient",
            person_id=person.person_id, insutype=info.insutype, med_type=info.med_type or "21",
            begntime=info.begntime, diagnoses=diagnoses_of(diseases), dise_codg=info.dise_codg,
            ipt_otp_no=info.ipt_no, msgid=msg.msgid,
        )  # fmt: skip
        return {"result": {"mdtrt_id": mdtrt_id}}, mdtrt_id, None

    return await logged(msg, work)


async def change_admission(msg: Message) -> Output:
    """2403 入院信息变更: admission time, med_type, special disease, and the diagnoses when
    ``diseinfo`` is sent; only with nothing settled."""
    info = node(msg, AdmissionChange, "adminfo", "mdtrtinfo", "data")
    diseases = node_list(msg, Diagnosis, "diseinfo", required=False)

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, info.mdtrt_id, kind="inpatient", for_update=True)
        check_person(row, info.psn_no)
        await not_settled(msg, info.mdtrt_id)
        changes: dict[str, Any] = {}
        if info.begntime is not None:
            changes["begntime"] = info.begntime
        if info.med_type:
            changes["med_type"] = info.med_type
        if info.dise_codg:
            changes["dise_codg"] = info.dise_codg
        if "diseinfo" in msg.envelope.input:
            changes["diagnoses"] = diagnoses_of(diseases)
        if changes:
            await repo.update_encounter(msg.conn, msg.institution_code, info.mdtrt_id, **changes)
        return {}, info.mdtrt_id, None

    return await logged(msg, work)


async def discharge(msg: Message) -> Output:
    """2402 出院办理: the discharge time is the encounter's date."""
    info = node(msg, Discharge, "dscginfo", "mdtrtinfo", "data")

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, info.mdtrt_id, kind="inpatient", for_update=True)
        check_person(row, info.psn_no)
        await not_settled(msg, info.mdtrt_id)
        if info.endtime < row["begntime"]:
            raise refusal("validation_error", "dscginfo.endtime: before the admission")
        await repo.update_encounter(msg.conn, msg.institution_code, info.mdtrt_id, endtime=info.endtime)
        return {}, info.mdtrt_id, None

    return await logged(msg, work)


async def undo_admission(msg: Message) -> Output:
    """2404 入院办理撤销: only with nothing settled."""
    data = node(msg, EncounterRef, "data")

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, data.mdtrt_id, kind="inpatient", for_update=True)
        check_person(row, data.psn_no)
        await not_settled(msg, data.mdtrt_id)
        await repo.update_encounter(msg.conn, msg.institution_code, data.mdtrt_id, status="cancelled")
        return {}, data.mdtrt_id, None

    return await logged(msg, work)


async def undo_discharge(msg: Message) -> Output:
    """2405 出院办理撤销: only with nothing settled."""
    data = node(msg, EncounterRef, "data")

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, data.mdtrt_id, kind="inpatient", for_update=True)
        check_person(row, data.psn_no)
        await not_settled(msg, data.mdtrt_id)
        if row["endtime"] is None:
            raise refusal("not_discharged", "this encounter has no discharge to undo")
        await repo.update_encounter(msg.conn, msg.institution_code, data.mdtrt_id, endtime=None)
        return {}, data.mdtrt_id, None

    return await logged(msg, work)


async def upload_fees(msg: Message) -> Output:
    """2301 住院费用明细信息上传 → ``output.result``; refund lines name ``init_feedetl_sn``."""
    return await fees.upload_message(msg, kind="inpatient", batch_required=False)


async def undo_fees(msg: Message) -> Output:
    """2302 住院费用明细信息撤销: lines by ``feedetl_sn``, or all with ``"0000"``. ``data`` is
    one object or a list of them (S8 models it as a list, S11 as an object)."""
    rows = node_list(msg, FeeUndo, "data")
    if not rows or any(not r.feedetl_sn for r in rows) or len({r.mdtrt_id for r in rows}) != 1:
        raise refusal("validation_error", "input.data: feedetl_sn and one mdtrt_id required")
    mdtrt_id = rows[0].mdtrt_id

    async def work() -> tuple[dict[str, Any], str, None]:
        row = await encounter(msg, mdtrt_id, kind="inpatient", for_update=True)
        for data in rows:
            check_person(row, data.psn_no)
        await not_settled(msg, mdtrt_id)
        for data in rows:
            line = None if data.feedetl_sn == "0000" else data.feedetl_sn
            removed = await repo.delete_lines(msg.conn, msg.institution_code, mdtrt_id, feedetl_sn=line)
            if line is not None and removed == 0:
                raise refusal("fee_line_not_found", "no uploaded line with this feedetl_sn")
        return {}, mdtrt_id, None

    return await logged(msg, work)


async def _request(msg: Message, data: SettleData) -> SettlementRequest:
    row = await encounter(msg, data.mdtrt_id, kind="inpatient")
    check_person(row, data.psn_no)
    rows = list(await repo.lines(msg.conn, msg.institution_code, data.mdtrt_id))
    # The encounter's date: the discharge (2402), else this message's date (api.md).
    day = row["endtime"].astimezone(CST).date() if row["endtime"] is not None else msg.day
    med_type = row["med_type"] or "21"
    request = settlement_request(
        msg,
        person_id=row["person_id"],
        encounter_id=data.mdtrt_id,
        med_type=med_type,
        insutype=data.insutype or row["insutype"],
        encounter_date=day,
        admission_date=row["begntime"].astimezone(CST).date(),
        diagnoses=list(row["diagnoses"]),
        special_disease=row["dise_codg"] if med_type == "14" else None,
        use_personal_account=data.acct_used_flag != "0",
        items=settlement_items(rows),
    )
    check_medfee(request, data.medfee_sumamt)
    return request


async def preview(msg: Message) -> Output:
    """2303 住院预结算."""
    data = node(msg, SettleData, "data")
    request = await _request(msg, data)
    return await preview_message(msg, request, mdtrt_id=data.mdtrt_id, mdtrt_cert_type=data.mdtrt_cert_type)


async def settle(msg: Message) -> Output:
    """2304 住院结算 (``msgid`` is the idempotency key)."""
    data = node(msg, SettleData, "data")
    stored = await replay(msg)
    if stored is not None:
        return stored
    request = await _request(msg, data)
    return await settle_message(msg, request, mdtrt_id=data.mdtrt_id, mdtrt_cert_type=data.mdtrt_cert_type)


async def reverse(msg: Message) -> Output:
    """2305 住院结算撤销 → the settlement's record, negated."""
    data = node(msg, ReversalData, "data")
    settlement_id = parse_setl_id(data.setl_id)

    async def work() -> tuple[dict[str, Any], str, Any]:
        return await reverse_settlement(msg, settlement_id, mdtrt_id=data.mdtrt_id, psn_no=data.psn_no)

    return await logged(msg, work)
