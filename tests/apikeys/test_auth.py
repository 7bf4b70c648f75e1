"""API keys: 401/403, creation shown once, hashed storage, immediate revocation, bootstrap key."""

from __future__ import annotations

import hashlib

from app.kit.auth import hash_key
from app.main import create_app
from tests.helpers import ensure_institution, make_asgi_client, problem


async def test_missing_key_is_401_with_www_authenticate(client) -> None:
    r = await client.put("/v1/regions/441900", json={"name": "东莞市"})
    problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"


async def test_unknown_and_malformed_keys_are_401(app, db) -> None:
    for header in ("Bearer msk_nope", "Basic dXNlcjpwYXNz", "Bearer", "msk_raw"):
        async with make_asgi_client(app, headers={"Authorization": header}) as c:
            problem(await c.get("/v1/persons/p1"), 401, "unauthorized")


async def test_wrong_role_is_403(make_client) -> None:
    for role in ("ops", "wallet", "institution"):
        c = await make_client(role)
        problem(await c.put("/v1/regions/441900", json={"name": "x"}), 403, "forbidden")
    wallet = await make_client("wallet")
    problem(await wallet.get("/v1/persons/p1"), 403, "forbidden")


async def test_create_key_shown_once_and_stored_hashed(admin_client, db) -> None:
    await ensure_institution(db, "H44190000001")
    r = await admin_client.post(
        "/v1/api-keys", json={"role": "institution", "institution_code": "H44190000001", "label": "HIS"}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"key_id", "key", "role", "institution_code"}
    assert body["role"] == "institution" and body["institution_code"] == "H44190000001"
    key = body["key"]
    assert key.startswith("msk_") and len(key) >= 4 + 43  # 32 random bytes
    row = await db.fetchrow("SELECT key_hash, label FROM api_keys WHERE key_id = $1", body["key_id"])
    assert bytes(row["key_hash"]) == hashlib.sha256(key.encode()).digest()
    assert key.encode() not in bytes(row["key_hash"]) and row["label"] == "HIS"
    audit = await db.fetch("SELECT action, target, actor_key_id FROM audit_log")
    assert [(a["action"], a["target"]) for a in audit] == [("api_key.create", f"api_key:{body['key_id']}")]
    assert audit[0]["actor_key_id"] == admin_client.key_id
    assert key not in str(await db.fetch("SELECT * FROM audit_log"))


async def test_created_key_works_with_its_role(app, admin_client, db) -> None:
    r = await admin_client.post("/v1/api-keys", json={"role": "ops", "label": "night shift"})
    async with make_asgi_client(app, r.json()["key"]) as ops:
        problem(await ops.get("/v1/persons/nobody"), 404, "person_not_found")
        problem(await ops.put("/v1/regions/441900", json={"name": "x"}), 403, "forbidden")


async def test_key_validation(admin_client, db) -> None:
    problem(await admin_client.post("/v1/api-keys", json={"role": "institution"}), 422, "validation_error")
    problem(
        await admin_client.post("/v1/api-keys", json={"role": "ops", "institution_code": "H44190000001"}),
        422,
        "validation_error",
    )
    problem(await admin_client.post("/v1/api-keys", json={"role": "root"}), 422, "validation_error")
    problem(
        await admin_client.post("/v1/api-keys", json={"role": "institution", "institution_code": "H00000000009"}),
        422,
        "unknown_institution",
    )
    assert await db.count("api_keys") == 1  # only the admin's own
    assert await db.count("audit_log") == 0


async def test_revocation_takes_effect_at_once(app, admin_client, make_client, db) -> None:
    ops = await make_client("ops")
    assert (await ops.get("/v1/regions/441900")).status_code == 404  # authenticated (and now cached)
    assert (await ops.get("/v1/regions/441900")).status_code == 404
    r = await admin_client.delete(f"/v1/api-keys/{ops.key_id}")
    assert r.status_code == 204 and r.content == b""
    problem(await ops.get("/v1/regions/441900"), 401, "unauthorized")
    assert await db.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys WHERE key_id = $1", ops.key_id)
    # again: no-op, one audit row only
    assert (await admin_client.delete(f"/v1/api-keys/{ops.key_id}")).status_code == 204
    assert await db.count("audit_log", "action = 'api_key.revoke'") == 1
    problem(await admin_client.delete("/v1/api-keys/00000000-0000-0000-0000-000000000000"), 404, "api_key_not_found")
    problem(await admin_client.delete("/v1/api-keys/not-a-uuid"), 422, "validation_error")


async def test_revocation_in_another_process_reaches_this_one_through_notify(app, make_client, db) -> None:
    """A revoke committed elsewhere (simulated: SQL + NOTIFY on another connection) empties our cache."""
    ops = await make_client("ops")
    assert (await ops.get("/v1/regions/441900")).status_code == 404
    generation = app.state.reference
    await app.state.reference_listener.wait_connected()
    assert generation.reliable
    before = generation.value
    # Not through db.execute (which bumps locally): a plain connection, as another process would.
    async with db.pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", ops.key_id)
        await conn.execute("NOTIFY medsettle_reference")
    for _ in range(100):
        if generation.value != before:
            break
        import asyncio

        await asyncio.sleep(0.01)
    assert generation.value != before
    problem(await ops.get("/v1/regions/441900"), 401, "unauthorized")


async def test_listener_loss_disables_caches_then_reconnects(app, db) -> None:
    import asyncio

    generation = app.state.reference
    listener = app.state.reference_listener
    await listener.wait_connected()
    pid = listener.connection.get_server_pid()
    before = generation.value
    await db.fetchval("SELECT pg_terminate_backend($1)", pid)
    for _ in range(200):
        if not generation.reliable:
            break
        await asyncio.sleep(0.01)
    assert generation.value != before
    await listener.wait_connected(timeout=10)
    assert generation.reliable and listener.connection.get_server_pid() != pid


async def test_bootstrap_admin_key(test_settings, db) -> None:
    settings = test_settings.model_copy(update={"bootstrap_admin_key": "msk_bootstrap-test-key", "reference_listener": False})
    from pydantic import SecretStr

    settings = settings.model_copy(update={"bootstrap_admin_key": SecretStr("msk_bootstrap-test-key")})
    for _ in range(2):  # idempotent across restarts
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            async with make_asgi_client(application, "msk_bootstrap-test-key") as c:
                r = await c.put("/v1/regions/441900", json={"name": "东莞市"})
                assert r.status_code in (200, 201), r.text
    rows = await db.fetch("SELECT role, revoked_at FROM api_keys WHERE key_hash = $1", hash_key("msk_bootstrap-test-key"))
    assert [(r["role"], r["revoked_at"]) for r in rows] == [("admin", None)]
