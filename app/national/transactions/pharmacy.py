"""Pharmacy 药店: 2101 pre-settlement, 2102 settlement, 2103 reversal. The lines travel in
the message (``drugdetail``); the patient is the e-voucher code (``mdtrt_cert_type`` 01,
the code in ``mdtrt_cert_no``), consumed by 2102 exactly as by ``POST /v1/settlements``,
or the certno (02 / 03) with ``psn_no``. ``mdtrt_id`` is the message's ``msgid``."""

from __future__ import annotations

from typing import Any, Callable

from app.national import answers
from app.national.exceptions import refusal
from app.national.schemas import DrugInfo, FeeLine, ReversalData
from app.national.service import (
    Message,
    Output,
    check_medfee,
    logged,
    node,
    node_list,
    parse_setl_id,
    person_by_credential,
    preview_message,
    replay,
    reverse_settlement,
    settle_message,
    settlement_request,
)
from app.settlement.schemas import SettlementRequest


async def _request(msg: Message, info: DrugInfo, lines: list[FeeLine]) -> SettlementRequest:
    if not info.mdtrt_cert_no:
        raise refusal("validation_error", "druginfo.mdtrt_cert_no: required")
    who: dict[str, Any]
    if info.mdtrt_cert_type == "01":
        who = {"e_voucher_code": info.mdtrt_cert_no}
    else:
        person = await person_by_credential(msg, info.mdtrt_cert_type, info.mdtrt_cert_no, info.psn_no)
        who = {"person_id": person.person_id}
    for line in lines:
        if line.cnt <= 0:
            raise refusal("validation_error", "drugdetail.cnt: must be positive")
    med_type = info.med_type or "41"
    day = info.begntime.date() if info.begntime is not None else msg.day
    request = settlement_request(
        msg,
        **who,
        encounter_id=msg.msgid[-30:] if len(msg.msgid) > 30 else msg.msgid,
        med_type=med_type,
        insutype=info.insutype,
        encounter_date=day,
        special_disease=info.dise_codg if med_type == "14" else None,
        use_personal_account=info.acct_used_flag != "0",
        items=[
            {"line_no": i + 1, "code": line.med_list_codg, "qty": line.cnt, "unit_price": line.pric}
            for i, line in enumerate(lines)
        ],
    )
    check_medfee(request, info.medfee_sumamt)
    return request


def _detlcutinfo(lines: list[FeeLine]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``detlcutinfo``: the settled items, one per ``drugdetail`` line, in order."""

    def extra(settlement: dict[str, Any]) -> dict[str, Any]:
        return {"detlcutinfo": [answers.settled_line(item, line.feedetl_sn)
                                for line, item in zip(lines, settlement["items"], strict=True)]}  # fmt: skip

    return extra


async def preview(msg: Message) -> Output:
    """2101 药店预结算: nothing written, the code is not consumed."""
    info = node(msg, DrugInfo, "druginfo", "data")
    lines = node_list(msg, FeeLine, "drugdetail")
    request = await _request(msg, info, lines)
    return await preview_message(
        msg, request, mdtrt_id=request.encounter_id, mdtrt_cert_type=info.mdtrt_cert_type, extra=_detlcutinfo(lines)
    )


async def settle(msg: Message) -> Output:
    """2102 药店结算: consumes the e-voucher code; a retried msgid is the same settlement."""
    info = node(msg, DrugInfo, "druginfo", "data")
    lines = node_list(msg, FeeLine, "drugdetail")
    stored = await replay(msg)
    if stored is not None:
        return stored
    request = await _request(msg, info, lines)
    return await settle_message(
        msg, request, mdtrt_id=request.encounter_id, mdtrt_cert_type=info.mdtrt_cert_type, extra=_detlcutinfo(lines)
    )


async def reverse(msg: Message) -> Output:
    """2103 药店结算撤销 → the record negated (``psn_pay`` / ``cash_payamt`` also given)."""
    data = node(msg, ReversalData, "data")
    settlement_id = parse_setl_id(data.setl_id)

    async def work() -> tuple[dict[str, Any], str, Any]:
        return await reverse_settlement(
            msg, settlement_id, mdtrt_id=data.mdtrt_id, psn_no=data.psn_no, extra_names=True
        )

    return await logged(msg, work)
