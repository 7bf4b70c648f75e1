"""2601 冲正交易: undo a message by its ``omsgid`` (the HIS never got its answer).

- 2207 / 2304 / 2102: the settlement that ``omsgid`` made (its idempotency key) is
  reversed as by 2208 / 2305 / 2103, and its record answered negated. When ``omsgid``
  settled nothing (it never arrived, or was refused) the answer is ``infcode 0`` with
  an empty output and nothing changes (api.md).
- 2201 / 2401: the registration / admission is undone when nothing is settled on it.
- 2204 / 2301: the lines that upload carried are removed when nothing is settled.
- Anything else (a reversal 2208 / 2305 / 2103 cannot be un-reversed): ``not_reversible``.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.national import jsontext, ports
from app.national import repository as repo
from app.national.exceptions import refusal
from app.national.schemas import Correction
from app.national.service import Message, Output, logged, node, not_settled, reverse_settlement

SETTLING = {"2207", "2304", "2102"}
REGISTERING = {"2201", "2401"}
UPLOADING = {"2204", "2301"}


async def correct(msg: Message) -> Output:
    data = node(msg, Correction, "data")
    if data.oinfno not in SETTLING | REGISTERING | UPLOADING:
        raise refusal("not_reversible", f"a {data.oinfno} message cannot be undone by 2601")

    async def work() -> tuple[dict[str, Any], str | None, Any]:
        if data.oinfno in SETTLING:
            stored = await ports.settlement_for_key(msg.conn, msg.institution_code, data.omsgid)
            if stored is None:
                return {}, None, None
            settlement_id = uuid.UUID(jsontext.loads(stored)["settlement_id"])
            return await reverse_settlement(msg, settlement_id, mdtrt_id=None, psn_no=data.psn_no)
        original = await repo.get_message(msg.conn, msg.institution_code, data.omsgid)
        if original is None or original["infno"] != data.oinfno or original["mdtrt_id"] is None:
            return {}, None, None
        mdtrt_id = original["mdtrt_id"]
        row = await repo.get_encounter(msg.conn, msg.institution_code, mdtrt_id, for_update=True)
        if row is None:
            return {}, None, None
        if data.psn_no is not None and data.psn_no != row["person_id"]:
            raise refusal("person_mismatch", "psn_no is not the person of the original message")
        await not_settled(msg, mdtrt_id)
        if data.oinfno in REGISTERING:
            await repo.update_encounter(msg.conn, msg.institution_code, mdtrt_id, status="cancelled")
        else:
            await repo.delete_lines(msg.conn, msg.institution_code, mdtrt_id, msgid=data.omsgid)
        return {}, mdtrt_id, None

    return await logged(msg, work)

