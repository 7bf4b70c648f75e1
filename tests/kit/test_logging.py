"""Access logs: request id, route template, status; never bodies, names, certno, amounts or keys."""

from __future__ import annotations

import logging

import structlog
from structlog.testing import LogCapture


async def test_request_log_line_without_personal_data(admin_client, db) -> None:
    await admin_client.put("/v1/regions/441900", json={"name": "东莞市"})
    person = {
        "certno": "11010519491231002X", "name": "王秘密", "gender": "female", "birth_date": "1949-12-31",
        "insured_region": "441900", "account_balance": "4321.09",
    }  # fmt: skip
    saved = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),  # tests log at WARNING
    )
    try:
        r = await admin_client.put("/v1/persons/P77", json=person, headers={"X-Request-ID": "req-42"})
        await admin_client.put("/v1/persons/P78", json={**person, "certno": "110105194912310021"})
    finally:
        structlog.configure(processors=saved["processors"], wrapper_class=saved["wrapper_class"])
    logs = capture.entries
    assert r.status_code == 201
    lines = [e for e in logs if e["event"] == "request"]
    assert len(lines) == 2
    first = lines[0]
    assert first["request_id"] == "req-42" and first["method"] == "PUT"
    assert first["route"] == "/v1/persons/{person_id}" and first["status"] == 201
    assert isinstance(first["duration_ms"], float)
    assert lines[1]["status"] == 422
    text = repr(logs)
    for secret in ("王秘密", "11010519491231002X", "110105194912310021", "4321.09", admin_client.key, "P77"):
        assert secret not in text
