"""The one-transaction-per-request rule: commit before the response, rollback on error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from app.kit.db import DbSession
from app.kit.errors import Conflict
from app.main import create_app
from tests.helpers import TestDB, make_asgi_client, problem


@pytest.fixture
async def tx_app(test_settings, db: TestDB) -> AsyncIterator:
    application = create_app(test_settings.model_copy(update={"reference_listener": False}))

    @application.post("/_test/regions/{code}", status_code=201)
    async def write_region(code: str, session: DbSession) -> dict:
        await session.execute(text("INSERT INTO regions (code, name) VALUES (:c, 'x')"), {"c": code})
        return {"code": code}

    @application.post("/_test/regions/{code}/then-conflict")
    async def write_then_fail(code: str, session: DbSession) -> dict:
        await session.execute(text("INSERT INTO regions (code, name) VALUES (:c, 'x')"), {"c": code})
        raise Conflict("refused after writing")

    @application.post("/_test/regions/{code}/then-crash")
    async def write_then_crash(code: str, session: DbSession) -> dict:
        await session.execute(text("INSERT INTO regions (code, name) VALUES (:c, 'x')"), {"c": code})
        raise RuntimeError("boom: secret detail")

    @application.post("/_test/regions/{code}/commit-fails", status_code=201)
    async def commit_fails(code: str, session: DbSession) -> dict:
        # A deferred constraint trigger fires at COMMIT and refuses it.
        await session.execute(text("CREATE TEMP TABLE IF NOT EXISTS commit_guard (id int) ON COMMIT DROP"))
        await session.execute(
            text(
                "CREATE OR REPLACE FUNCTION pg_temp.refuse_commit() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON commit_guard DEFERRABLE INITIALLY DEFERRED"
                " FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_commit()"
            )
        )
        await session.execute(text("INSERT INTO commit_guard VALUES (1)"))
        await session.execute(text("INSERT INTO regions (code, name) VALUES (:c, 'x')"), {"c": code})
        return {"code": code}

    async with application.router.lifespan_context(application):
        yield application


async def test_commit_happens_before_the_response_starts(tx_app, db: TestDB) -> None:
    seen_at_response_start: list[int] = []
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            # Another connection must already see the row: it was committed.
            seen_at_response_start.append(await db.count("regions", "code = '100100'"))
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/_test/regions/100100",
        "raw_path": b"/_test/regions/100100",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }
    await tx_app(scope, receive, send)
    assert messages[0]["status"] == 201
    assert seen_at_response_start == [1]


async def test_problem_error_rolls_back(tx_app, db: TestDB) -> None:
    async with make_asgi_client(tx_app) as c:
        r = await c.post("/_test/regions/100200/then-conflict")
    problem(r, 409, "conflict")
    assert await db.count("regions") == 0


async def test_unhandled_error_rolls_back_and_leaks_nothing(tx_app, db: TestDB) -> None:
    async with make_asgi_client(tx_app) as c:
        r = await c.post("/_test/regions/100300/then-crash")
    body = problem(r, 500, "internal_error")
    assert "secret" not in r.text and "boom" not in r.text
    assert body["detail"] == "An unexpected error occurred."
    assert await db.count("regions") == 0


async def test_failed_commit_is_an_error_not_a_success(tx_app, db: TestDB) -> None:
    async with make_asgi_client(tx_app) as c:
        r = await c.post("/_test/regions/100400/commit-fails")
    problem(r, 500, "internal_error")
    assert await db.count("regions") == 0
