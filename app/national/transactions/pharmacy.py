"""Pharmacy 药店: 2101 pre-settlement, 2102 settlement, 2103 reversal. The lines travel in
the message (``drugdetail``); the patient is the e-voucher code (``mdtrt_cert_type`` 01,
the code in ``mdtrt_cert_no``), consumed by 2102 exactly as by ``POST /v1/settlements``,
or the certno (02 / 03) with ``psn_no``. ``mdtrt_id`` is the message's ``msgid``."""

from __future__ import annotations

from typing import Any

from app.national import answers, ports
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


async def _request(msg: Message, info: DrugInfo, lines: list[FeeLine], *, settling: bool) -> SettlementRequest:
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


def _detlcutinfo(lines: list[FeeLine]):  # type: ignore[no-untyped-def]
    """``detlcutinfo``: the settled items per line, as a fee upload's ``result``."""

    def extra(settlement: dict[str, Any]) -> dict[str, Any]:
        from decimal import Decimal

        from app.engine.model import CatalogItem, ItemResult

        rows = []
        for line, item in zip(lines, settlement["items"]):
            result = ItemResult(
                line_no=item["line_no"], code=item["code"], name=item["name"], qty=Decimal(item["qty"]),
                unit_price=Decimal(item["unit_price"]), amount=Decimal(item["amount"]), category=item["category"],
                self_pay_full=Decimal(item["self_pay_full"]), over_limit=Decimal(item["over_limit"]),
                pre_self_pay=Decimal(item["pre_self_pay"]), in_scope=Decimal(item["in_scope"]), reason=item["reason"],
            )  # fmt: skip
            catalog = None if item["category"] is None else CatalogItem(item["code"], item["name"] or "", item["category"])
            row = answers.line_result(ports.ClassifiedLine(result, catalog), line.feedetl_sn)
            row.pop("lmt_used_flag")
            row.pop("pric_uplmt_amt")
            row.pop("selfpay_prop")
            rows.append(row)
        return {"detlcutinfo": rows}

    return extra


async def preview(msg: Message) -> Output:
    """2101 药店预结算: nothing written, the code is not consumed."""
    info = node(msg, DrugInfo, "druginfo", "data")
    lines = node_list(msg, FeeLine, "drugdetail")
    request = await _request(msg, info, lines, settling=False)
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
    request = await _request(msg, info, lines, settling=True)
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
