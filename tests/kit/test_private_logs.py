"""Logs rendered for real (the JSON renderer, stdlib and structlog alike) through failing
database paths hold no names, certno, person ids, key material or SQL parameters, and every
line carries the request id of the request it belongs to."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from sqlalchemy import text

from app.kit.auth import hash_key
from app.kit.logging import configure_logging, scrub
from app.kit.migrate import upgrade_head
from app.main import create_app
from tests.helpers import create_key, make_asgi_client

NAME = "王秘密"
CERTNO = "11010519491231002X"
PERSON = {
    "certno": CERTNO, "name": NAME, "gender": "female", "birth_date": "1949-12-31",
    "insured_region": "441900", "account_balance": "4321.09",
}  # fmt: skip


@pytest.fixture
def rendered() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, as the service renders it (JSON lines, INFO)."""
    buffer = io.StringIO()
    saved = structlog.get_config()
    configure_logging("INFO", json=True, stream=buffer)
    try:
        yield buffer
    finally:
        configure_logging("WARNING", json=True)
        structlog.configure(**saved)


def _lines(buffer: io.StringIO) -> list[dict]:
    out = []
    for raw in buffer.getvalue().splitlines():
        out.append(json.loads(raw))  # every line is one JSON document
    return out


def _assert_private(buffer: io.StringIO, *secrets: str) -> None:
    text_ = buffer.getvalue()
    for secret in (NAME, CERTNO, "4321.09", *secrets):
        assert secret not in text_, secret
    assert "[parameters:" not in text_ and "Failing row contains" not in text_ and "DETAIL" not in text_


async def test_failing_person_writes_log_nothing_personal(admin_client, db, rendered) -> None:
    await admin_client.put("/v1/regions/441900", json={"name": "东莞市"})
    bad = [
        {**PERSON, "certno": CERTNO + "00"},  # 20 characters: longer than the CHAR(18) column
        {**PERSON, "name": NAME + "\x00"},  # NUL: not storable in a PostgreSQL text
        {**PERSON, "account_balance": "9" * 15 + ".00"},  # past numeric(14,2)
    ]
    statuses = []
    for i, body in enumerate(bad):
        r = await admin_client.put(f"/v1/persons/PSECRET{i}", json=body, headers={"X-Request-ID": f"bad-{i}"})
        statuses.append(r.status_code)
        assert r.status_code != 201, body  # each write fails somewhere (validation or database)
    lines = _lines(rendered)
    access = [e for e in lines if e["event"] == "request" and e["request_id"].startswith("bad-")]
    assert [e["request_id"] for e in access] == ["bad-0", "bad-1", "bad-2"]
    assert [e["status"] for e in access] == statuses
    # Who called: the admin key's id and role, never the key or its digest.
    assert all(e["key_id"] == str(admin_client.key_id) and e["role"] == "admin" for e in access)
    # Any error logged for these requests is tied to its request.
    for e in lines:
        if e["level"] in ("error", "warning"):
            assert e.get("request_id", "").startswith("bad-"), e
    _assert_private(rendered, "PSECRET", admin_client.key, hash_key(admin_client.key).hex())


async def test_real_database_errors_are_scrubbed_whoever_logs_them(app, db, rendered) -> None:
    """A CHECK violation quotes the whole row in DETAIL; asyncpg's DataError quotes the
    argument; SQLAlchemy would print the parameters. Logged through structlog and through
    a stdlib logger (as uvicorn or SQLAlchemy would), none of it survives."""
    errors: list[BaseException] = []
    async with app.state.engine.connect() as conn:
        for stmt, params in (
            (
                "INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, account_balance)"
                " VALUES (:p, :c, :n, 'neither', '1949-12-31', '441900', 0)",
                {"p": "PSECRET9", "c": CERTNO, "n": NAME},
            ),
            ("SELECT CAST(:c AS date)", {"c": CERTNO}),
        ):
            try:
                await conn.execute(text(stmt), params)
            except Exception as exc:  # noqa: BLE001 - the error is what we log
                errors.append(exc)
            await conn.rollback()
    async with db.pool.acquire() as raw:
        try:
            await raw.execute("SELECT $1::text", 5)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    assert len(errors) == 3
    # Unscrubbed, the texts of the chains would leak (asyncpg's error, the cause, has DETAIL).
    assert NAME in _chain_text(errors[0]) and CERTNO in _chain_text(errors[1])
    structlog.contextvars.bind_contextvars(request_id="req-db")
    try:
        for exc in errors:
            structlog.get_logger("medsettle.test").error("database_failed", exc_info=exc)
            logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=exc)
            logging.getLogger("sqlalchemy.pool").warning("error: %s", exc)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    lines = _lines(rendered)
    assert len(lines) == 9
    assert all(e["request_id"] == "req-db" for e in lines)
    assert {e.get("logger") for e in lines} >= {"uvicorn.error", "sqlalchemy.pool"}
    kinds = " ".join(json.dumps(e.get("exception", "")) for e in lines)
    assert "CheckViolationError" in kinds and "query argument $1: (redacted)" in kinds
    _assert_private(rendered, "PSECRET9")


def _chain_text(exc: BaseException | None) -> str:
    out = []
    while exc is not None:
        out.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return "\n".join(out)


def test_scrub_keeps_what_says_what_happened() -> None:
    assert scrub('new row for relation "persons" violates check constraint "gender"\nDETAIL:  Failing row contains (P1, 王).') == (
        'new row for relation "persons" violates check constraint "gender"\n(detail redacted)'
    )
    assert scrub("invalid input for query argument $1: '110105' (expected str, got int)") == (
        "invalid input for query argument $1: (redacted)"
    )
    assert scrub('invalid input syntax for type date: "110105"') == 'invalid input syntax for type date: "(redacted)"'
    assert scrub("x\n[SQL: SELECT 1]\n[parameters: ('王', 'P1')]\n(Background on this error at: y)") == (
        "x\n[SQL: SELECT 1]\n[parameters redacted]\n(Background on this error at: y)"
    )


async def test_bad_key_and_killed_connection_log_nothing_secret(test_settings, db, rendered) -> None:
    """A separate app with one pooled connection (so killing it touches no other test): a
    bad key, then the key lookup and a person read on a connection the server has killed."""
    settings = test_settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_held_connections": 0, "reference_listener": False,
                "log_level": "INFO"}
    )
    app = create_app(settings)
    configure_logging("INFO", json=True, stream=rendered)  # create_app configured stderr
    async with app.router.lifespan_context(app):
        _, key = await create_key(db, "admin")
        async with app.state.engine.connect() as conn:  # the pool's only connection
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        bogus = "msk_" + "A" * 43
        async with make_asgi_client(app, bogus) as c:
            r = await c.get("/v1/persons/PSECRET7", headers={"X-Request-ID": "bad-key"})
            assert r.status_code == 401
        assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
        async with make_asgi_client(app, key) as c:
            r = await c.get("/v1/persons/PSECRET7", headers={"X-Request-ID": "killed"})
            first = r.status_code
            # The key lookup met the dead connection and ran again on a fresh one
            # (app.kit.dberrors): the unknown person is 404; never a 500.
            assert first in (404, 503)
            r = await c.get("/v1/persons/PSECRET7", headers={"X-Request-ID": "after"})
            assert r.status_code in (403, 404, 503)  # never a 2xx for an unknown person, never a 500
    lines = _lines(rendered)
    access = {e["request_id"]: e for e in lines if e["event"] == "request"}
    assert access["bad-key"]["status"] == 401 and "key_id" not in access["bad-key"]
    assert access["killed"]["status"] == first
    _assert_private(rendered, "PSECRET7", bogus, key, hash_key(key).hex(), hash_key(bogus).hex())


async def test_access_line_names_key_and_institution_and_alembic_speaks_json(
    institution_client, db, database_url, rendered
) -> None:
    r = await institution_client.get("/v1/persons/PSECRET5", headers={"X-Request-ID": "inst-1"})
    assert r.status_code in (403, 404)
    upgrade_head(database_url)  # already at head: alembic still says which context it runs in
    lines = _lines(rendered)
    (access,) = [e for e in lines if e["event"] == "request" and e["request_id"] == "inst-1"]
    assert access["key_id"] == str(institution_client.key_id)
    assert access["institution"] == "H44190000001" and access["role"] == "institution"
    assert access["route"] == "/v1/persons/{person_id}" and access["status"] == r.status_code
    alembic = [e for e in lines if str(e.get("logger", "")).startswith("alembic")]
    assert alembic and all(e["level"] == "info" and "timestamp" in e for e in alembic)
    _assert_private(rendered, "PSECRET5", institution_client.key)
