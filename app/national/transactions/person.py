"""Persons: 1101 人员信息获取 and 5206 人员累计信息查询."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.engine.settle import FUND_CODES
from app.national import answers, ports
from app.national import repository as repo
from app.national.exceptions import refusal
from app.national.jsontext import money
from app.national.schemas import CumQuery, PersonQuery
from app.national.service import Message, Output, node, person_by_credential


async def person_info(msg: Message) -> Output:
    """1101 by ``mdtrt_cert_type``: 01 e-voucher code (not consumed), 02 身份证, 03 社保卡
    (the card number is taken as the certno; when ``certno`` is sent it is used instead).
    ``insuinfo.balc`` is the account balance: the patient presented the credential."""
    data = node(msg, PersonQuery, "data")
    cert_no = data.mdtrt_cert_no or (data.certno if data.mdtrt_cert_type != "01" else None)
    if data.mdtrt_cert_type == "03" and data.certno:
        cert_no = data.certno
    person = await person_by_credential(msg, data.mdtrt_cert_type, cert_no, None)
    async with msg.conn.transaction():
        await ports.record_lookup(msg.conn, msg.caller, person.person_id, {"01": "e_voucher"}.get(
            data.mdtrt_cert_type, "certno"))  # fmt: skip
    shown = person.certno if data.mdtrt_cert_type in ("02", "03") else answers.mask_certno(person.certno)
    return {
        "baseinfo": answers.baseinfo(person, certno_shown=shown, day=msg.day),
        "insuinfo": answers.insuinfo(person, msg.day),
        "idetinfo": answers.idetinfo(person),
    }


async def cumulative(msg: Message) -> Output:
    """5206 ``cuminfo``, only for a person this institution registered an encounter with
    (2201 / 2401); otherwise ``credential_required``."""
    data = node(msg, CumQuery, "data")
    if not await repo.has_encounter_with(msg.conn, msg.institution_code, data.psn_no):
        raise refusal("credential_required", "register an encounter with this person (2201 / 2401) first")
    person = await ports.person(msg.conn, data.psn_no)
    if person is None:  # pragma: no cover - an encounter's person exists
        raise refusal("person_not_found", "no insured person with this id")
    year = int(data.cum_ym[:4]) if data.cum_ym else msg.day.year
    cum_ym = data.cum_ym or f"{year}{msg.day.month:02d}"
    acc = await ports.accumulators(msg.conn, person.person_id, year)
    paid = await ports.fund_paid(msg.conn, person.person_id, year)
    active = [t for t, f, u in person.enrollments if f.year <= year and (u is None or u.year >= year)]
    insutype = active[-1] if active else (person.enrollments[-1][0] if person.enrollments else "390")

    rows: list[tuple[str, Decimal]] = [
        ("D" + FUND_CODES[("basic", insutype)], acc.get("basic_paid", Decimal(0))),
        ("D" + FUND_CODES[("critical_illness", insutype)], acc.get("ci_paid", Decimal(0))),
        ("D610100", acc.get("aid_paid", Decimal(0))),
        ("D610102", acc.get("sa_paid", Decimal(0))),
        ("D999997", paid["fallback"]),
        ("D310200", paid["personal_account"]),
    ]
    groups = {"deductible": "TQ_DEDC_", "limit": "TQ_LMT_", "disease": "TQ_DISE_"}
    for name in sorted(acc):
        prefix, _, key = name.partition(":")
        if key and prefix in groups:
            rows.append((groups[prefix] + key, acc[name]))
    rows += [("TS_CI_BASE", acc.get("ci_base", Decimal(0))), ("TS_AID_BASE", acc.get("aid_base", Decimal(0))),
             ("TS_SA_BASE", acc.get("sa_base", Decimal(0)))]  # fmt: skip
    cuminfo: list[dict[str, Any]] = [
        {"insutype": insutype, "year": str(year), "cum_ym": cum_ym, "cum_type_code": code, "cum": money(amount)}
        for code, amount in rows
    ]
    return {"cuminfo": cuminfo}
