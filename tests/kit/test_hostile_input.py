"""Hostile and careless input never gets a 5xx (issue 13, api.md Conventions): amounts out of
range, control characters, deep nesting, oversized bodies, dates in the future or the past."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from app.kit.clock import CST
from app.kit.errors import install_error_handlers
from app.kit.routing import DecimalJSONRoute, body_limit, check_json_depth
from app.kit.settings import Settings
from tests.helpers import make_asgi_client, problem
from tests.world import H3, accumulators, add_person, encounter, load_world

MIB = 1024 * 1024


@pytest.fixture
async def world(db):
    await load_world(db)
    await add_person(db, "P001")
    return db


@pytest.fixture
async def hospital(world, make_client):
    return await make_client("institution", H3)


async def preview(client, body):
    return await client.post("/v1/settlements/preview", json=body)


async def settle(client, body, idem="k-1", **kw):
    return await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": idem}, **kw)


async def settlement_count(db) -> int:
    return await db.fetchval("SELECT count(*) FROM settlements")


# ------------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("qty", "unit_price"),
    [
        ("100000000", "10000"),  # the probe: 1e12 per line, NUMERIC(14,2) overflowed on settle
        ("100000.0001", "1"),  # qty > 100000
        ("0", "1"),  # qty must be > 0
        ("-1", "1"),
        ("1", "10000000.000001"),  # unit_price > 10000000
        ("1", "-0.01"),  # unit_price < 0
        ("100000", "1000.0001"),  # line amount 100000 × 1000.0001 = 100000010.00 > 100000000.00
    ],
)
async def test_amounts_out_of_range_are_refused_alike_by_preview_and_settle(hospital, world, qty, unit_price):
    body = encounter("P001", [("DRUG_A", qty, unit_price)])
    for r in (await preview(hospital, body), await settle(hospital, body)):
        p = problem(r, 422, "amount_out_of_range")
        # qty or unit_price out of bounds names the field; a line amount names the line
        assert p["errors"][0]["loc"] in (["body", "items", 0, "qty"], ["body", "items", 0, "unit_price"], ["body"])
        assert p["errors"][0]["loc"] != ["body"] or "line 1" in p["errors"][0]["msg"]
    assert await settlement_count(world) == 0


async def test_amount_bounds_are_inclusive_and_settle_fits_the_columns(hospital, world):
    # One line at the line bound: 100000 × 1000.00 = 100000000.00, ten of them = 1000000000.00,
    # exactly the encounter bound. Settling it must store (NUMERIC(14,2) holds 999999999999.99).
    lines = [("DRUG_A", "100000", "1000.00")] * 10
    r = await preview(hospital, encounter("P001", lines))
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["total"] == "1000000000.00"
    r = await settle(hospital, encounter("P001", lines))
    assert r.status_code == 201, r.text
    assert r.json()["totals"]["total"] == "1000000000.00"
    assert (await accumulators(world, "P001"))["basic_paid"] > 0
    # An eleventh line makes 1100000000.00 > 1000000000.00: the whole encounter is refused.
    body = encounter("P001", lines + [("DRUG_A", "1", "0.01")], encounter_id="E2")
    for r in (await preview(hospital, body), await settle(hospital, body, idem="k-2")):
        p = problem(r, 422, "amount_out_of_range")
        assert p["errors"][0]["loc"] == ["body"]
    assert await settlement_count(world) == 1


async def test_amount_error_mixed_with_other_errors_is_a_validation_error(hospital, world):
    body = encounter("P001", [("DRUG_A", "0", "1")])
    del body["encounter_id"]
    problem(await preview(hospital, body), 422, "validation_error")


# ------------------------------------------------------------------------ control characters


@pytest.mark.parametrize("text", ["E\x001", "E\n1", "E\x7f", "E\x851"])
async def test_control_characters_in_text_are_refused(hospital, world, text):
    body = encounter("P001", [("DRUG_A", "1", "1")], encounter_id=text)
    for r in (await preview(hospital, body), await settle(hospital, body)):
        p = problem(r, 422, "validation_error")
        assert ["body", "encounter_id"] in [e["loc"] for e in p["errors"]]
        assert text not in r.text  # never echoed
    named = encounter("P001", [("DRUG_A", "1", "1")])
    named["items"][0]["name"] = "药\x00"
    problem(await preview(hospital, named), 422, "validation_error")
    assert await settlement_count(world) == 0


async def test_control_characters_refused_in_admin_text_and_query_and_path(admin_client, db):
    problem(await admin_client.put("/v1/regions/441900", json={"name": "东莞\x00"}), 422, "validation_error")
    problem(await admin_client.post("/v1/api-keys", json={"role": "ops", "label": "a\x1bb"}), 422, "validation_error")
    r = await admin_client.get("/v1/persons/P%00/special-disease-registrations")
    assert r.status_code in (404, 422), r.text
    r = await admin_client.get("/v1/settlements", params={"institution_code": "H\x00"})
    problem(r, 422, "validation_error")


async def test_unicode_text_is_accepted(hospital, world):
    body = encounter("P001", [("DRUG_A", "1", "1")], encounter_id="门诊-2026/03")
    body["items"][0]["name"] = "吉非替尼片 [进口] {10mg}"
    assert (await preview(hospital, body)).status_code == 200


# ------------------------------------------------------------------------------ nesting


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


async def test_deep_nesting_is_400_before_parsing_on_every_body(hospital, admin_client, world):
    for raw in (nested(100_000), b'{"a":' * 5000 + b"1" + b"}" * 5000, nested(65)):
        for r in (
            await hospital.post("/v1/settlements/preview", content=raw, headers={"content-type": "application/json"}),
            await settle(hospital, None, content=raw),
            await admin_client.put("/v1/regions/441900", content=raw, headers={"content-type": "application/json"}),
        ):
            p = problem(r, 400, "malformed_body")
            assert "nested" in p["detail"]
    # 64 levels is allowed: the body is then just the wrong shape (422), not unreadable.
    r = await hospital.post("/v1/settlements/preview", content=nested(64), headers={"content-type": "application/json"})
    problem(r, 422, "validation_error")
    # The client keeps working afterwards (the issue saw the next request reset).
    assert (await preview(hospital, encounter("P001", [("DRUG_A", "1", "1")]))).status_code == 200


def test_check_json_depth_counts_only_brackets_outside_strings():
    check_json_depth(b'{"a": "' + b"[" * 1000 + b'"}')  # in a string: not nesting
    check_json_depth(b'{"a": "\\"' + b"[" * 1000 + b'"}')  # an escaped quote does not end the string
    check_json_depth(b"[" + b"[]," * 1000 + b"[]]")  # many, but 2 deep
    check_json_depth(nested(64))
    with pytest.raises(Exception) as info:
        check_json_depth(b'["\\\\",' + nested(65) + b"]")  # escaped backslash then a real 66 deep
    assert getattr(info.value, "code", None) == "malformed_body"


# ------------------------------------------------------------------------------ body size


async def test_body_over_one_mib_is_413_on_settle_and_preview(hospital, world):
    body = json.dumps(encounter("P001", [("DRUG_A", "1", "1")])).encode()
    padded = body[:-1] + b" " * (MIB + 1 - len(body)) + b"}"  # valid JSON, 1 MiB + 1 byte
    assert len(padded) == MIB + 1
    r = await settle(hospital, None, content=padded, idem="pad")
    problem(r, 413, "body_too_large")
    r = await hospital.post("/v1/settlements/preview", content=padded, headers={"content-type": "application/json"})
    problem(r, 413, "body_too_large")
    exactly = body[:-1] + b" " * (MIB - len(body)) + b"}"  # exactly 1 MiB is allowed
    r = await hospital.post("/v1/settlements/preview", content=exactly, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert await settlement_count(world) == 0


async def test_chunked_body_without_length_stops_at_the_limit(app, hospital, world):
    """No Content-Length: the read stops once the limit is passed (not at the end)."""
    sent = 0
    chunk = b" " * 65536

    async def endless():
        nonlocal sent
        yield b'{"person_id": "P001",'
        while sent < 20 * MIB:  # 20 MB, as in the issue
            sent += len(chunk)
            yield chunk

    for path, headers in (("/v1/settlements", {"Idempotency-Key": "chunked"}), ("/v1/settlements/preview", {})):
        sent = 0
        r = await hospital.post(path, content=endless(), headers={"content-type": "application/json", **headers})
        problem(r, 413, "body_too_large")
        assert sent <= MIB + 2 * len(chunk), sent


async def test_declared_length_over_the_limit_is_refused_before_reading(app, admin_client, hospital):
    messages = 0

    async def receive():
        nonlocal messages
        messages += 1
        return {"type": "http.request", "body": b"{}", "more_body": True}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    def scope(method: str, path: str, key: str) -> dict:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"content-length", str(50 * MIB).encode()), (b"authorization", f"Bearer {key}".encode()),
                        (b"content-type", b"application/json"), (b"idempotency-key", b"big")],
            "client": ("127.0.0.1", 1), "server": ("test", 80),
        }

    for method, path, key in (("PUT", "/v1/regions/441900", admin_client.key),
                              ("POST", "/v1/settlements", hospital.key),
                              ("POST", "/v1/settlements/preview", hospital.key)):
        sent.clear()
        await app(scope(method, path, key), receive, send)
        assert sent[0]["status"] == 413, (path, sent)
    assert messages == 0  # not one body message was read
    # A bad key is answered first (401), before the body is looked at.
    sent.clear()
    await app(scope("PUT", "/v1/regions/441900", "msk_nope"), receive, send)
    assert sent[0]["status"] == 401 and messages == 0


def test_limit_is_configurable():
    assert Settings(_env_file=None).max_body_bytes == MIB
    assert Settings(_env_file=None, max_body_bytes=2048).max_body_bytes == 2048


class Echo(BaseModel):
    text: str


async def test_app_limit_and_per_route_limit(app, hospital, world, monkeypatch):
    monkeypatch.setattr(app.state, "max_body_bytes", 300)
    body = encounter("P001", [("DRUG_A", "1", "1")] * 5)
    assert len(json.dumps(body)) > 300
    problem(await preview(hospital, body), 413, "body_too_large")
    problem(await settle(hospital, body), 413, "body_too_large")

    async def echo(body: Echo) -> dict:
        return {"n": len(body.text)}

    router = APIRouter(route_class=DecimalJSONRoute)
    router.add_api_route("/default", echo, methods=["POST"])
    router.add_api_route("/big", echo, methods=["POST"], route_class_override=body_limit(1000))
    small = FastAPI()
    install_error_handlers(small)
    small.include_router(router)
    small.state.max_body_bytes = 10

    async with make_asgi_client(small) as c:
        payload = {"text": "x" * 100}
        problem(await c.post("/default", json=payload), 413, "body_too_large")
        r = await c.post("/big", json=payload)
        assert r.json() == {"n": 100}
        problem(await c.post("/big", json={"text": "x" * 1000}), 413, "body_too_large")


# ------------------------------------------------------------------------------- dates


def at(day: str, time: str = "23:59:59") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=CST)


async def test_encounter_date_after_today_in_china_is_refused(app, hospital, world, monkeypatch):
    # 2026-03-10 16:30 UTC is 2026-03-11 00:30 in +08:00: "today" is already the 11th there.
    monkeypatch.setattr(app.state, "clock", lambda: dt.datetime(2026, 3, 10, 16, 30, tzinfo=dt.timezone.utc), raising=False)
    ok = encounter("P001", [("DRUG_A", "1", "1")], date="2026-03-11")
    assert (await preview(hospital, ok)).status_code == 200
    monkeypatch.setattr(app.state, "clock", lambda: at("2026-03-10"), raising=False)
    future = encounter("P001", [("DRUG_A", "1", "1")], date="2026-03-11")
    for r in (await preview(hospital, future), await settle(hospital, future)):
        problem(r, 422, "encounter_date_in_future")
    admitted = encounter("P001", [("DRUG_A", "1", "1")], date="2026-03-12", admission_date="2026-03-11")
    problem(await preview(hospital, admitted), 422, "encounter_date_in_future")
    far = encounter("P001", [("DRUG_A", "1", "1")], date="2999-01-01")
    problem(await settle(hospital, far, idem="far"), 422, "encounter_date_in_future")
    assert await settlement_count(world) == 0
    r = await settle(hospital, encounter("P001", [("DRUG_A", "1", "1")], date="2026-03-10"), idem="today")
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("day", ["1999-12-31", "0001-01-01"])
async def test_absurd_past_dates_are_refused(hospital, world, day):
    body = encounter("P001", [("DRUG_A", "1", "1")], date=day)
    for r in (await preview(hospital, body), await settle(hospital, body)):
        problem(r, 422, "validation_error")


async def test_absurd_dates_elsewhere_are_422_not_500(admin_client, db):
    await db.execute("INSERT INTO regions (code, name) VALUES ('441900', 'x')")
    person = {
        "certno": "11010519491231002X", "name": "x", "gender": "male", "birth_date": "0001-01-01",
        "insured_region": "441900", "enrollments": [{"insutype": "390", "valid_from": "9999-12-31"}],
    }
    r = await admin_client.put("/v1/persons/P1", json=person)
    p = problem(r, 422, "validation_error")
    assert {tuple(e["loc"][:2]) for e in p["errors"]} >= {("body", "birth_date"), ("body", "enrollments")}


async def test_unbalanced_deep_brackets_are_400(hospital, world):
    for raw in (b"[" * 100_000, b'{"a":' * 5000):
        r = await hospital.post("/v1/settlements/preview", content=raw, headers={"content-type": "application/json"})
        problem(r, 400, "malformed_body")
        problem(await settle(hospital, None, content=raw, idem="u"), 400, "malformed_body")


async def test_an_unexpected_error_is_still_problem_json(app):
    """No cause of a 500 is known to remain; should one appear (here a RecursionError, whose
    traceback is thousands of frames), the client still gets problem+json, and the next
    request is answered."""

    def deep(n: int) -> int:
        return deep(n + 1) + 1

    async def boom() -> dict:
        return {"n": deep(0)}

    router = APIRouter(route_class=DecimalJSONRoute)
    router.add_api_route("/boom", boom, methods=["GET"])
    small = FastAPI()
    install_error_handlers(small)
    small.include_router(router)
    async with make_asgi_client(small) as c:
        problem(await c.get("/boom"), 500, "internal_error")
        problem(await c.get("/boom"), 500, "internal_error")
