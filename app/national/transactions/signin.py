"""9001 签到 → ``signinoutb.sign_no``, which HIS systems send back in the header."""

from __future__ import annotations

import secrets
from typing import Any

from app.national import repository as repo
from app.national.answers import national_time
from app.national.schemas import SignIn
from app.national.service import Message, Output, logged, node


async def sign_in(msg: Message) -> Output:
    data = node(msg, SignIn, "signIn", "data")

    async def work() -> tuple[dict[str, Any], None, None]:
        sign_no = msg.received_at.strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**16):016d}"
        await repo.insert_sign_in(msg.conn, sign_no, msg.institution_code, data.opter_no or msg.envelope.opter,
                                  msg.received_at)  # fmt: skip
        return {"signinoutb": {"sign_no": sign_no, "sign_time": national_time(msg.received_at)}}, None, None

    return await logged(msg, work)
