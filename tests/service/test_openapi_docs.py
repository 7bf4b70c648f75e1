"""The OpenAPI document is complete enough to integrate from: every property described in
English with the Chinese term, code tables as enums, and every request example works as-is
against a fresh demo world."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.demo.world import demo_key
from app.kit.openapi_docs import CODE_TABLES
from app.openapi_export import current_openapi
from tests.helpers import make_asgi_client

SPEC = current_openapi()
SCHEMAS = SPEC["components"]["schemas"]


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _english(text: str) -> bool:
    return any(len(w) >= 3 and "_" not in w for w in re.findall(r"[A-Za-z_]+", text))


def test_every_property_has_an_english_and_chinese_description() -> None:
    missing = [
        f"{name}.{prop}"
        for name, schema in SCHEMAS.items()
        for prop, body in schema.get("properties", {}).items()
        if not (_cjk(body.get("description", "")) and _english(body.get("description", "")))
    ]
    assert sum(len(s.get("properties", {})) for s in SCHEMAS.values()) > 300
    assert missing == []


def test_code_tables_are_documented_enums() -> None:
    def enum_of(prop: dict[str, Any]) -> set[str]:
        if "enum" in prop:
            return set(prop["enum"])
        return {v for option in prop.get("anyOf", []) for v in option.get("enum", [])}

    request = SCHEMAS["SettlementRequest"]["properties"]
    assert enum_of(request["med_type"]) == set(CODE_TABLES["med_type"])
    assert enum_of(request["insutype"]) == set(CODE_TABLES["insutype"])
    assert enum_of(SCHEMAS["FundOut"]["properties"]["fund"]) == set(CODE_TABLES["fund"])
    assert enum_of(SCHEMAS["FundOut"]["properties"]["fund_pay_type"]) == set(CODE_TABLES["fund_pay_type"])
    assert enum_of(SCHEMAS["InstitutionIn"]["properties"]["kind"]) == set(CODE_TABLES["institution_kind"])
    assert enum_of(SCHEMAS["PersonIn"]["properties"]["aid_category"]) == set(CODE_TABLES["aid_category"])
    # each code is explained where it is used
    assert "`21` 普通住院 inpatient" in request["med_type"]["description"]
    assert "`390` 城乡居民基本医疗保险" in request["insutype"]["description"]
    assert "`minimum_living` 最低生活保障对象" in SCHEMAS["PersonIn"]["properties"]["aid_category"]["description"]
    assert "`pharmacy` 定点零售药店" in SCHEMAS["InstitutionIn"]["properties"]["kind"]["description"]


# --------------------------------------------------------------------------- request examples

#: Who sends each operation, as a vendor or an operator would.
INSTITUTION_OF = {"/v1/persons/{person_id}/special-disease-registrations": "H44200000001",
                  "/v1/persons/{person_id}/special-disease-registrations/{registration_id}/sites": "H44200000001"}  # fmt: skip


def _role(method: str, path: str) -> tuple[str, str | None]:
    if path.startswith(("/v1/settlements", "/v1/referrals", "/v1/persons/lookup", "/fsi/")):
        return "institution", "H44190000001"
    if path in INSTITUTION_OF:
        return "institution", INSTITUTION_OF[path]
    if path.startswith("/v1/e-vouchers"):
        return "wallet", None
    if path.endswith("/cross-region-filings"):
        return "ops", None
    return "admin", None


def _examples() -> list[tuple[str, str, Any, dict[str, Any]]]:
    out = []
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            ref = content["schema"].get("$ref", "").rsplit("/", 1)[-1]
            schema = SCHEMAS.get(ref, {})
            examples = ([content["example"]] if "example" in content else []) or (
                [schema["example"]] if "example" in schema else schema.get("examples", []))  # fmt: skip
            assert examples, f"{method.upper()} {path} has no request example"
            params = {}
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    given = p.get("example") or (p.get("examples") or p["schema"].get("examples") or [None])[0]
                    params[p["name"]] = given
            for example in examples:
                out.append((method.upper(), path, example, params))
    return out


EXAMPLES = _examples()


@pytest.mark.parametrize(("method", "path", "example", "params"), EXAMPLES,
                         ids=[f"{m} {p} #{i}" for i, (m, p, _, _) in enumerate(EXAMPLES)])  # fmt: skip
async def test_request_example_succeeds_on_the_demo_world(app, demo_world, method, path, example, params) -> None:
    role, institution = _role(method, path)
    key = demo_world[f"institution:{institution}"] if role == "institution" else demo_key(role)
    async with make_asgi_client(app, key) as client:
        values = dict(params)
        for name, value in values.items():
            if value is None and isinstance(example, dict) and name in example:
                values[name] = example[name]  # e.g. the policy's insutype and effective_from
        if "registration_id" in values and values["registration_id"] is None:
            # the registration the sites change is for: the registration example, made first
            registration = SCHEMAS["RegistrationIn"]["examples"][0]
            r = await client.post(f"/v1/persons/{values['person_id']}/special-disease-registrations", json=registration)
            assert r.status_code == 201, r.text
            values["registration_id"] = r.json()["registration_id"]
        assert all(v is not None for v in values.values()), f"no example for a path parameter of {path}: {values}"
        url = path.format(**values)
        headers = {"Idempotency-Key": "example-1"} if (method, path) == ("POST", "/v1/settlements") else {}
        r = await client.request(method, url, json=example, headers=headers)
    assert 200 <= r.status_code < 300, f"{method} {url}: {r.status_code} {r.text[:500]}"


def test_integration_guide_lists_every_error_code() -> None:
    """docs/his-integration.md tells a vendor what to do about every code the API documents."""
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "his-integration.md").read_text("utf-8")
    codes = {
        code
        for ops in SPEC["paths"].values()
        for op in ops.values()
        for status, response in op["responses"].items()
        if status.startswith(("4", "5"))
        for code in re.findall(r"`([a-z_]+)`", response.get("description", ""))
    }
    assert len(codes) > 30
    assert sorted(c for c in codes if f"`{c}`" not in guide) == []


def test_every_parameter_is_described() -> None:
    missing = [
        f"{method.upper()} {path} {p['name']}"
        for path, ops in SPEC["paths"].items()
        for method, op in ops.items()
        for p in op.get("parameters", [])
        if not p.get("description")
    ]
    assert missing == []
