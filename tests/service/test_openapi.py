"""The exported OpenAPI document is the app's, and every route documents itself."""

from __future__ import annotations

import json

from app.openapi_export import DEFAULT_PATH, current_openapi, render


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert committed == current_openapi(), "openapi/openapi.json is stale: run `python -m app.openapi_export`"
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(committed)


MINE = ("/v1/regions", "/v1/institutions", "/v1/catalogs", "/v1/policies", "/v1/persons", "/v1/api-keys")


def test_routes_document_summary_description_and_errors() -> None:
    spec = current_openapi()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("summary"), (method, path)
            assert op.get("description"), (method, path)
            if path.startswith(MINE):
                assert {"401", "403", "422"} <= set(op["responses"]), (method, path)
                for status in ("401", "403", "422"):
                    content = op["responses"][status]["content"]
                    assert "application/problem+json" in content, (method, path, status)
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) >= {"type", "title", "status", "code", "detail", "errors"}


async def test_served_openapi_equals_export(client) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json() == current_openapi()
