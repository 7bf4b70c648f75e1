"""problem+json for FastAPI's own errors: 400 unreadable body, 422 without echoing input."""

from __future__ import annotations

from tests.helpers import problem


async def test_malformed_json_is_400(admin_client) -> None:
    r = await admin_client.put(
        "/v1/regions/441900", content=b'{"name": "x",', headers={"Content-Type": "application/json"}
    )
    problem(r, 400, "malformed_body")


async def test_validation_error_lists_errors_without_echoing_input(admin_client, db) -> None:
    secret_name = "王秘密"
    r = await admin_client.put(
        "/v1/persons/p1",
        json={
            "certno": "11010519491231002X",
            "name": secret_name,
            "gender": "unknown-gender-value",
            "birth_date": "not-a-date-123456",
            "insured_region": "441900",
            "account_balance": "12.345",
            "surprise": "extra-field-value",
        },
    )
    body = problem(r, 422, "validation_error")
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "gender") in locs
    assert ("body", "birth_date") in locs
    assert ("body", "account_balance") in locs
    assert ("body", "surprise") in locs
    for e in body["errors"]:
        assert set(e) == {"loc", "msg"}
    for leaked in (secret_name, "unknown-gender-value", "not-a-date-123456", "12.345", "extra-field-value",
                   "11010519491231002X"):  # fmt: skip
        assert leaked not in r.text
    assert await db.count("persons") == 0


async def test_path_validation_is_422(admin_client) -> None:
    body = problem(await admin_client.put("/v1/regions/44190", json={"name": "x"}), 422, "validation_error")
    assert body["errors"][0]["loc"] == ["path", "code"]
