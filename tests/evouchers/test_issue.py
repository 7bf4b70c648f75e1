"""POST /v1/e-vouchers: wallet only; a fresh, unguessable code per call, stored as its hash."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from app.evouchers.codes import CODE_PATTERN
from tests.evouchers.conftest import START
from tests.evouchers.helpers import issue
from tests.helpers import problem
from tests.world import add_person

pytestmark = pytest.mark.asyncio


async def test_issue_returns_code_and_expiry(wallet, world, app):
    await add_person(world, "R1")
    r = await wallet.post("/v1/e-vouchers", json={"person_id": "R1"})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"code", "expires_at"}
    code = body["code"]
    # Not `"R1" not in code`: a 43-character random code contains a 2-character id by
    # chance about once in a hundred runs (seen). That it carries nothing of the person is
    # shown below: it is random, a new one per call, and only its digest is stored.
    assert CODE_PATTERN.fullmatch(code)
    # RFC 3339 with offset, TTL from the settings (default 300 s) on the service clock
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() is not None
    assert expires == START + dt.timedelta(seconds=app.state.settings.e_voucher_ttl_seconds)
    assert app.state.settings.e_voucher_ttl_seconds == 300

    row = await world.fetchrow("SELECT * FROM e_vouchers")
    assert bytes(row["code_hash"]) == hashlib.sha256(code.encode()).digest()
    assert row["person_id"] == "R1" and row["issued_at"] == START and row["expires_at"] == expires
    assert row["consumed_by"] is None and row["consumed_at"] is None
    # The code itself is nowhere in the database.
    dump = await world.fetchval("SELECT string_agg(t::text, '|') FROM e_vouchers t")
    assert code not in dump and code[3:] not in dump

    # Every call is a new code; earlier ones stay valid until used or expired.
    again = await issue(wallet, "R1")
    assert again["code"] != code
    assert await world.count("e_vouchers") == 2


async def test_ttl_comes_from_settings(wallet, world, app):
    await add_person(world, "R1")
    saved = app.state.settings
    app.state.settings = saved.model_copy(update={"e_voucher_ttl_seconds": 60})
    try:
        body = await issue(wallet, "R1")
    finally:
        app.state.settings = saved
    assert dt.datetime.fromisoformat(body["expires_at"]) == START + dt.timedelta(seconds=60)


async def test_refusals(wallet, world):
    r = await wallet.post("/v1/e-vouchers", json={"person_id": "NOBODY"})
    problem(r, 404, "person_not_found")

    await add_person(world, "LAPSED")
    await world.execute("UPDATE enrollments SET valid_to = '2026-03-09' WHERE person_id = 'LAPSED'")
    problem(await wallet.post("/v1/e-vouchers", json={"person_id": "LAPSED"}), 422, "not_insured")

    await add_person(world, "FUTURE")
    await world.execute("UPDATE enrollments SET valid_from = '2026-03-11' WHERE person_id = 'FUTURE'")
    problem(await wallet.post("/v1/e-vouchers", json={"person_id": "FUTURE"}), 422, "not_insured")

    # the last day of an enrollment still counts (China-time date of the clock)
    await add_person(world, "LASTDAY")
    await world.execute("UPDATE enrollments SET valid_to = '2026-03-10' WHERE person_id = 'LASTDAY'")
    await issue(wallet, "LASTDAY")

    problem(await wallet.post("/v1/e-vouchers", json={"person_id": "R1", "name": "x"}), 422, "validation_error")
    problem(await wallet.post("/v1/e-vouchers", json={}), 422, "validation_error")
    problem(await wallet.post("/v1/e-vouchers", json={"person_id": "has space"}), 422, "validation_error")
    assert await world.count("e_vouchers") == 1


async def test_today_is_china_time(wallet, world, clock):
    """23:30 UTC on 9 March is already 10 March in China: the enrollment starting then counts."""
    await add_person(world, "NEW")
    await world.execute("UPDATE enrollments SET valid_from = '2026-03-10' WHERE person_id = 'NEW'")
    clock.t = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.timezone.utc)
    await issue(wallet, "NEW")
    clock.t = dt.datetime(2026, 3, 9, 15, 30, tzinfo=dt.timezone.utc)  # 23:30 on 9 March in China
    problem(await wallet.post("/v1/e-vouchers", json={"person_id": "NEW"}), 422, "not_insured")


@pytest.mark.parametrize("role", ["institution", "ops", "admin"])
async def test_wallet_only(role, make_client, world):
    await add_person(world, "R1")
    other = await make_client(role, "P44190000001" if role == "institution" else None)
    problem(await other.post("/v1/e-vouchers", json={"person_id": "R1"}), 403, "forbidden")
    assert await world.count("e_vouchers") == 0


async def test_no_key(client, world):
    problem(await client.post("/v1/e-vouchers", json={"person_id": "R1"}), 401, "unauthorized")


async def test_openapi_documents_the_route(app):
    op = app.openapi()["paths"]["/v1/e-vouchers"]["post"]
    assert "医保电子凭证" in op["description"] and op["summary"]
    assert {"201", "401", "403", "404", "422"} <= set(op["responses"])
    assert "not_insured" in op["responses"]["422"]["description"]
    settle_op = app.openapi()["paths"]["/v1/settlements"]["post"]
    assert "429" in settle_op["responses"]
