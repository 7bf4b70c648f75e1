"""healthz, readyz, metrics, problem+json for 404/405/400/422, request ids."""

from __future__ import annotations

import pytest

from app.kit.settings import Settings
from app.main import create_app
from tests.helpers import make_asgi_client, problem


async def test_healthz(client) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_at_head(client) -> None:
    from app.kit.migrate import head_revision

    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "revision": head_revision()}


async def test_readyz_not_ready_when_schema_behind(client, db) -> None:
    await db.execute("UPDATE alembic_version SET version_num = 'old'")
    try:
        r = await client.get("/readyz")
        body = problem(r, 503, "not_ready")
        assert "old" in body["detail"]
    finally:
        from app.kit.migrate import head_revision

        await db.execute("UPDATE alembic_version SET version_num = $1", head_revision())


async def test_readyz_not_ready_when_database_unreachable(test_settings) -> None:
    settings = test_settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing", "reference_listener": False}
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application), make_asgi_client(application) as c:
        r = await c.get("/readyz")
        problem(r, 503, "not_ready")
        assert (await c.get("/healthz")).status_code == 200


async def test_metrics_counts_requests_by_route_template(client) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'medsettle_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'medsettle_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz",status="200"}' in text
    # unknown paths are not labelled by their raw path (no unbounded label values)
    assert "/no/such/path" not in text
    assert 'route="unmatched",status="404"' in text


async def test_unknown_path_is_problem_json(client) -> None:
    body = problem(await client.get("/v1/nothing-here"), 404, "not_found")
    assert set(body) >= {"type", "title", "status", "code", "detail"}


async def test_wrong_method_is_problem_json(client) -> None:
    problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_request_id_is_echoed_or_generated(client) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 32
    r = await client.get("/healthz")
    assert len(r.headers["x-request-id"]) == 32


def test_production_refuses_to_start_without_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDSETTLE_DATABASE_URL", raising=False)
    with pytest.raises(ValueError, match="MEDSETTLE_DATABASE_URL"):
        Settings(_env_file=None, env="production")
    assert Settings(_env_file=None, env="production", database_url="postgresql://x@h/db").env == "production"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSETTLE_E_VOUCHER_TTL_SECONDS", "120")
    monkeypatch.setenv("MEDSETTLE_BOOTSTRAP_ADMIN_KEY", "msk_secret")
    s = Settings(_env_file=None)
    assert s.e_voucher_ttl_seconds == 120
    assert s.bootstrap_admin_key is not None and s.bootstrap_admin_key.get_secret_value() == "msk_secret"
    assert "msk_secret" not in repr(s)
    assert str(s.data_dir) == ".medsettle"
