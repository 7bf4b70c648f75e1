"""A small HIS for tests: builds national envelopes and sends them."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import httpx

from app.national import jsontext

PATH = "/fsi/api/rsfComIfsService/callService"
_seq = itertools.count(1)


def loads(response: httpx.Response) -> dict[str, Any]:
    """The answer with amounts as exact Decimals (never floats)."""
    assert response.status_code == 200, (response.status_code, response.text)
    return json.loads(response.text, parse_float=Decimal)


class His:
    def __init__(self, client: httpx.AsyncClient, institution_code: str) -> None:
        self.client = client
        self.code = institution_code

    def msgid(self) -> str:
        return f"{self.code}20260615100000{next(_seq):04d}"

    def envelope(self, infno: str, input: dict[str, Any], msgid: str | None = None, **header: Any) -> dict[str, Any]:
        body = {
            "infno": infno, "msgid": msgid or self.msgid(), "mdtrtarea_admvs": "441900", "insuplc_admdvs": "441900",
            "recer_sys_code": "HIS", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM3",
            "infver": "V1.0", "opter_type": "1", "opter": "001", "opter_name": "收费员",
            "inf_time": "2026-06-15 10:00:00", "fixmedins_code": self.code, "fixmedins_name": "测试机构",
            "sign_no": "", "input": input,
        }  # fmt: skip
        body.update(header)
        return body

    async def post(self, body: Any) -> httpx.Response:
        if isinstance(body, (bytes, str)):
            return await self.client.post(PATH, content=body, headers={"content-type": "application/json"})
        # Decimals go out as JSON numbers, as HIS systems send amounts.
        return await self.post(jsontext.dumps(body))

    async def call(self, infno: str, input: dict[str, Any], msgid: str | None = None, **header: Any) -> dict[str, Any]:
        return loads(await self.post(self.envelope(infno, input, msgid, **header)))

    async def ok(self, infno: str, input: dict[str, Any], msgid: str | None = None, **header: Any) -> dict[str, Any]:
        answer = await self.call(infno, input, msgid, **header)
        assert answer["infcode"] == 0, answer
        return answer["output"]

    async def refused(self, infno: str, input: dict[str, Any], code: str, msgid: str | None = None) -> str:
        answer = await self.call(infno, input, msgid)
        assert answer["infcode"] == -1, answer
        assert answer["err_msg"].startswith(code + ": "), answer["err_msg"]
        return answer["err_msg"]
