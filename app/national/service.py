"""The national interface's shared steps: the message being answered, node parsing,
the message log (retries and 2601), and the way every settling or reversing message
goes through the one settlement path (`app.national.ports`).

One module per transaction family lives in `app.national.transactions`; `dispatch`
maps an infno to its handler.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Awaitable, Callable, TypeVar

import asyncpg
from pydantic import BaseModel, ValidationError

from app.engine.model import Institution
from app.kit.clock import CST
from app.national import answers, jsontext, ports
from app.national import repository as repo
from app.national.exceptions import refusal
from app.national.jsontext import Raw
from app.national.schemas import Envelope
from app.settlement.schemas import SettlementRequest
from app.settlement.service import Caller

M = TypeVar("M", bound=BaseModel)
Output = dict[str, Any] | Raw


@dataclass
class Message:
    """One national message being answered, with what it needs to reach the database."""

    envelope: Envelope
    conn: asyncpg.Connection
    state: Any
    caller: Caller
    institution: Institution
    received_at: dt.datetime

    @property
    def institution_code(self) -> str:
        return self.institution.code

    @property
    def msgid(self) -> str:
        return self.envelope.msgid

    @property
    def infno(self) -> str:
        return self.envelope.infno

    @property
    def day(self) -> dt.date:
        """The message's date in China: its ``inf_time``, else when it arrived."""
        moment = self.envelope.inf_time or self.received_at
        return moment.astimezone(CST).date()

    def fingerprint(self) -> bytes:
        """The message's content for retries: infno and input (not the header's times)."""
        canonical = json.dumps(
            {"infno": self.infno, "input": self.envelope.input}, sort_keys=True, default=str, ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).digest()


# --------------------------------------------------------------------------- nodes


def field_errors(exc: ValidationError, where: str) -> str:
    parts = []
    for e in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in (where, *e["loc"]))
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def validate(model: type[M], value: Any, where: str) -> M:
    """A node validated; errors name fields and rules, never the values sent."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise refusal("validation_error", field_errors(exc, where)) from None


def node(msg: Message, model: type[M], *names: str) -> M:
    """The first present of ``names`` in ``input`` as ``model`` (a one-element list is
    accepted for an object node, as some HIS send it)."""
    for name in names:
        value = msg.envelope.input.get(name)
        if value is None:
            continue
        if isinstance(value, list):
            if len(value) != 1:
                raise refusal("validation_error", f"input.{name}: expected one object")
            value = value[0]
        if not isinstance(value, dict):
            raise refusal("validation_error", f"input.{name}: expected an object")
        return validate(model, value, f"input.{name}")
    raise refusal("validation_error", f"input.{names[0]}: node required")


def node_list(msg: Message, model: type[M], name: str, *, required: bool = True) -> list[M]:
    """A list node (an object is taken as a list of one)."""
    value = msg.envelope.input.get(name)
    if value is None:
        if required:
            raise refusal("validation_error", f"input.{name}: node required")
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise refusal("validation_error", f"input.{name}: expected a list of objects")
    if len(value) > 1000:
        raise refusal("validation_error", f"input.{name}: at most 1000 rows")
    return [validate(model, v, f"input.{name}.{i}") for i, v in enumerate(value)]


# --------------------------------------------------------------------------- message log


async def replay(msg: Message) -> Raw | None:
    """The output already answered to this msgid (a retry), or None. The same msgid with
    another infno or input is refused: ``idempotency_key_reused``."""
    row = await repo.get_message(msg.conn, msg.institution_code, msg.msgid)
    if row is None:
        return None
    if row["infno"] != msg.infno or bytes(row["fingerprint"]) != msg.fingerprint():
        raise refusal("idempotency_key_reused", "this msgid was answered for another message")
    return Raw(row["output"])


async def logged(
    msg: Message,
    work: Callable[[], Awaitable[tuple[dict[str, Any], str | None, uuid.UUID | None]]],
) -> Output:
    """Run a writing message once: ``work`` (→ output, mdtrt_id, settlement_id) and the
    log row in one transaction; a retry of the msgid gets the logged output."""
    stored = await replay(msg)
    if stored is not None:
        return stored
    async with msg.conn.transaction():
        output, mdtrt_id, settlement_id = await work()
        text = jsontext.dumps(output)
        if not await repo.insert_message(
            msg.conn, msg.institution_code, msg.msgid, msg.infno, msg.fingerprint(), text,
            mdtrt_id=mdtrt_id, settlement_id=settlement_id,
        ):  # fmt: skip
            raise refusal("request_in_progress", "a message with this msgid is being answered; retry shortly")
    return Raw(text)


# --------------------------------------------------------------------------- encounters


async def encounter(msg: Message, mdtrt_id: str, *, kind: str | None = None, for_update: bool = False) -> asyncpg.Record:
    row = await repo.get_encounter(msg.conn, msg.institution_code, mdtrt_id, for_update=for_update)
    if row is None or row["status"] != "open":
        raise refusal("encounter_not_found", "no open encounter with this mdtrt_id at this institution")
    if kind is not None and row["kind"] != kind:
        raise refusal("encounter_kind_mismatch", f"mdtrt_id is not an {kind} encounter")
    return row


def check_person(row: asyncpg.Record, psn_no: str | None) -> None:
    if psn_no is not None and psn_no != row["person_id"]:
        raise refusal("person_mismatch", "psn_no is not the person of this mdtrt_id")


async def not_settled(msg: Message, mdtrt_id: str) -> None:
    if await ports.live_settlement_id(msg.conn, msg.institution_code, mdtrt_id) is not None:
        raise refusal("encounter_already_settled", "this encounter has a live settlement; reverse it first")


def new_mdtrt_id(msg: Message) -> str:
    """就诊ID: the arrival time and 10 random digits (24 characters, opaque)."""
    return msg.received_at.astimezone(CST).strftime("%Y%m%d%H%M%S") + f"{uuid.uuid4().int % 10**10:010d}"


async def person_by_credential(msg: Message, cert_type: str, cert_no: str | None, psn_no: str | None) -> ports.PersonInfo:
    """The patient by the credential presented (01 e-voucher code, not consumed; 02 身份证;
    03 社保卡, whose number is taken as the certno), checked against ``psn_no``."""
    if not cert_no:
        raise refusal("validation_error", "mdtrt_cert_no: required")
    if cert_type == "01":
        person = await ports.person_by_e_voucher(msg.conn, msg.state, cert_no, msg.institution_code)
    elif cert_type in ("02", "03"):
        person = await ports.person_by_certno(msg.conn, cert_no)
    else:
        raise refusal("validation_error", "mdtrt_cert_type: must be 01, 02 or 03")
    if person is None:
        raise refusal("person_not_found", "no insured person with this credential")
    if psn_no is not None and psn_no != person.person_id:
        raise refusal("person_mismatch", "psn_no is not the person of the credential presented")
    return person


# --------------------------------------------------------------------------- settlement


def settlement_items(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Uploaded lines as settlement items: refund lines (``init_feedetl_sn``, negative
    ``cnt``) are netted against the line they refund; a line refunded whole is dropped."""
    qty: dict[str, Decimal] = {}
    for row in rows:
        if row["init_feedetl_sn"] is None:
            qty[row["feedetl_sn"]] = row["cnt"]
    for row in rows:
        original = row["init_feedetl_sn"]
        if original is not None and original in qty:
            qty[original] += row["cnt"]
    return [
        {"line_no": row["line_no"], "code": row["med_list_codg"], "qty": qty[row["feedetl_sn"]], "unit_price": row["pric"]}
        for row in rows
        if row["init_feedetl_sn"] is None and qty[row["feedetl_sn"]] > 0
    ]


def settlement_request(msg: Message, **fields: Any) -> SettlementRequest:
    """A `SettlementRequest` for this institution; invalid → ``validation_error`` naming fields."""
    if not fields.get("items"):
        raise refusal("no_fee_lines", "there is no fee line to settle")
    fields["institution_code"] = msg.institution_code
    return validate(SettlementRequest, fields, "settlement")


def canonical(request: SettlementRequest) -> bytes:
    """The request's bytes for the idempotency fingerprint: same content, same bytes."""
    return request.model_dump_json().encode()


def check_medfee(request: SettlementRequest, medfee: Decimal | None) -> None:
    """``medfee_sumamt`` (when sent) must be the total of the lines settled."""
    if medfee is None:
        return
    total = sum((jsontext.money(i.qty * i.unit_price) for i in request.items), Decimal("0"))
    if jsontext.money(medfee) != total:
        raise refusal("medfee_sumamt_mismatch", f"medfee_sumamt is not the total of the uploaded lines ({total})")


def settlement_output(
    settlement: dict[str, Any],
    person: ports.PersonInfo,
    *,
    mdtrt_id: str,
    medins_setl_id: str,
    balance_after: Decimal,
    mdtrt_cert_type: str | None,
    reversal: bool = False,
    preview: bool = False,
    extra_names: bool = False,
) -> dict[str, Any]:
    return {
        "setlinfo": answers.setlinfo(
            settlement, person, mdtrt_id=mdtrt_id, medins_setl_id=medins_setl_id, balance_after=balance_after,
            mdtrt_cert_type=mdtrt_cert_type, reversal=reversal, preview=preview, extra_names=extra_names,
        ),
        "setldetail": answers.setldetail(settlement, reversal=reversal),
    }  # fmt: skip


async def _person(msg: Message, person_id: str) -> ports.PersonInfo:
    person = await ports.person(msg.conn, person_id)
    if person is None:  # pragma: no cover - a settlement's person always exists
        raise refusal("person_not_found", "no insured person with this id")
    return person


async def preview_message(
    msg: Message, request: SettlementRequest, *, mdtrt_id: str, mdtrt_cert_type: str | None,
    extra: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """2206 / 2303 / 2101: the settlement as settling now would give it; nothing written.
    ``balc`` is the balance the settlement would leave."""
    settlement = jsontext.loads(await ports.preview(msg.conn, msg.state, request, msg.caller))
    person = await _person(msg, settlement["person_id"])
    after = person.account_balance - Decimal(settlement["totals"]["personal_account"])
    output = settlement_output(
        settlement, person, mdtrt_id=mdtrt_id, medins_setl_id=msg.msgid, balance_after=after,
        mdtrt_cert_type=mdtrt_cert_type, preview=True,
    )  # fmt: skip
    if extra is not None:
        output.update(extra(settlement))
    return output


async def settle_message(
    msg: Message, request: SettlementRequest, *, mdtrt_id: str, mdtrt_cert_type: str | None,
    extra: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Output:  # fmt: skip
    """2207 / 2304 / 2102: settle through the one settlement path with ``msgid`` as the
    idempotency key, answer the record, log it. A retry gets the logged answer."""
    stored = await replay(msg)
    if stored is not None:
        return stored
    settled = await ports.settle(msg.conn, msg.state, request, msg.caller, msg.msgid, canonical(request))
    settlement = jsontext.loads(settled.body)
    person = await _person(msg, settlement["person_id"])
    # The balance now: the settlement's own account payment is in it (read after its commit).
    output = settlement_output(
        settlement, person, mdtrt_id=mdtrt_id, medins_setl_id=msg.msgid, balance_after=person.account_balance,
        mdtrt_cert_type=mdtrt_cert_type,
    )  # fmt: skip
    if extra is not None:
        output.update(extra(settlement))
    text = jsontext.dumps(output)
    if not await repo.insert_message(
        msg.conn, msg.institution_code, msg.msgid, msg.infno, msg.fingerprint(), text,
        mdtrt_id=mdtrt_id, settlement_id=uuid.UUID(settlement["settlement_id"]),
    ):  # fmt: skip
        stored = await replay(msg)  # a racing retry logged it first: answer as it did
        if stored is not None:
            return stored
    return Raw(text)


async def reverse_settlement(
    msg: Message, settlement_id: uuid.UUID, *, mdtrt_id: str | None, psn_no: str | None, extra_names: bool = False
) -> tuple[dict[str, Any], str, uuid.UUID]:
    """Reverse a settlement of this institution (inside the caller's transaction) and
    answer its record with every amount negated, ``balc`` the balance after."""
    stored = await ports.stored_settlement(msg.conn, msg.state, settlement_id, msg.caller)
    if stored is None:
        raise refusal("settlement_not_found", "no settlement with this setl_id at this institution")
    current = jsontext.loads(stored)
    if mdtrt_id is not None and current["encounter_id"] != mdtrt_id:
        raise refusal("settlement_not_found", "setl_id is not a settlement of this mdtrt_id")
    if psn_no is not None and current["person_id"] != psn_no:
        raise refusal("person_mismatch", "psn_no is not the person of this settlement")
    settlement = jsontext.loads(await ports.reverse(msg.conn, msg.state, settlement_id, msg.caller))
    person = await _person(msg, settlement["person_id"])
    medins_setl_id = await repo.settling_msgid(msg.conn, msg.institution_code, settlement_id) or ""
    output = settlement_output(
        settlement, person, mdtrt_id=settlement["encounter_id"], medins_setl_id=medins_setl_id,
        balance_after=person.account_balance, mdtrt_cert_type=None, reversal=True, extra_names=extra_names,
    )  # fmt: skip
    return output, settlement["encounter_id"], settlement_id


def parse_setl_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise refusal("settlement_not_found", "no settlement with this setl_id at this institution") from None


Handler = Callable[[Message], Awaitable[Output]]
