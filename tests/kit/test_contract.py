"""The contract tells the truth (issue 13, item 6): every operation documents every status it
can answer, operationIds and schema names are readable and unique, and schemathesis finds
no server error, no undocumented status and no response off its schema.

schemathesis runs in-process against a second app instance (its own event loop thread, its
own engine, the same test database), with an admin key and an institution key, positive and
negative examples. ``MEDSETTLE_SCHEMATHESIS_EXAMPLES`` sets the examples per operation, key
and mode (default 4, a run of under a minute); e.g. 200 for a long hunt:

    MEDSETTLE_SCHEMATHESIS_EXAMPLES=200 PYTHONPATH=$PWD python -m pytest -q tests/kit/test_contract.py
"""

from __future__ import annotations

import asyncio
import os
import re
import time

import pytest

from app.main import create_app
from tests.helpers import create_key
from tests.world import H3, add_person, load_world

EXAMPLES_ENV = "MEDSETTLE_SCHEMATHESIS_EXAMPLES"
DEFAULT_EXAMPLES = 4


@pytest.fixture(scope="module")
def spec(app) -> dict:
    return app.openapi()


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def test_operation_ids_are_unique_snake_case_function_names(spec):
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    by_route = {(m, p): op["operationId"] for p, m, op in operations(spec)}
    assert by_route[("post", "/v1/settlements")] == "settle"
    assert by_route[("post", "/v1/settlements/preview")] == "preview"
    assert by_route[("get", "/v1/settlements/{settlement_id}")] == "get_settlement"
    assert by_route[("post", "/v1/persons/lookup")] == "lookup_person"


def test_schema_names_are_plain_and_unique(spec):
    names = list(spec["components"]["schemas"])
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", n) for n in names), [n for n in names if "__" in n or "-" in n]
    assert "HTTPValidationError" not in names and "ValidationError" not in names


def test_every_operation_documents_its_problems(spec):
    for path, method, op in operations(spec):
        responses = op["responses"]
        where = f"{method.upper()} {path}"
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert "application/problem+json" in response["content"], (where, status)
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}, (where, status)
        if op.get("security"):
            assert {"401", "403", "503"} <= set(responses), where
            assert "institution_inactive" in responses["403"]["x-problem-codes"], where
            assert {"database_unavailable", "busy"} <= set(responses["503"]["x-problem-codes"]), where
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(responses), where
            assert "body_too_large" in responses["413"]["x-problem-codes"], where
        if op.get("parameters") or "requestBody" in op:
            assert "422" in responses, where
    ops = {(p, m): op for p, m, op in operations(spec)}
    for key in (("/v1/settlements", "post"), ("/v1/settlements/preview", "post"), ("/v1/persons/lookup", "post")):
        assert "too_many_attempts" in ops[key]["responses"]["429"]["x-problem-codes"], key
    for code in ("amount_out_of_range", "encounter_date_in_future"):
        for key in (("/v1/settlements", "post"), ("/v1/settlements/preview", "post")):
            assert code in ops[key]["responses"]["422"]["x-problem-codes"], (key, code)


# ------------------------------------------------------------------------------ schemathesis


def run_schemathesis(settings, keys: dict[str, str], examples: int) -> tuple[list[str], int]:
    """Every operation × key × mode; returns the failures found and the calls made."""
    import hypothesis
    import hypothesis.errors
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.python import asgi
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    failures: list[str] = []
    calls = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            for role, key in keys.items():
                headers = {"Authorization": f"Bearer {key}"}
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                    @hypothesis.settings(
                        max_examples=examples,
                        deadline=None,
                        database=None,
                        derandomize=examples == DEFAULT_EXAMPLES,
                        suppress_health_check=list(hypothesis.HealthCheck),
                        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                    )
                    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
                    def check(case) -> None:
                        nonlocal calls
                        calls += 1
                        response = case.call(headers=headers)
                        case.validate_response(response, checks=checks, headers=headers)

                    t0 = time.monotonic()
                    try:
                        check()
                    except hypothesis.errors.Unsatisfiable:
                        pass  # no parameters and no body: nothing to make invalid
                    except Exception as exc:  # noqa: BLE001 - collected and reported together
                        text = re.sub(r"\s+", " ", str(exc))[:600]
                        failures.append(f"{operation.label} [{role}, {mode.value}]: {type(exc).__name__}: {text}")
                        print("schemathesis failure:", failures[-1], flush=True)
                    if os.environ.get("MEDSETTLE_SCHEMATHESIS_TIMES"):
                        print(f"{operation.label} {role} {mode.value} {time.monotonic() - t0:.2f}s")
    finally:
        asgi.shutdown_lifespans()
    return failures, calls


async def test_schemathesis_finds_nothing(db, test_settings):
    await load_world(db)
    for person_id in ("P001", "P002"):
        await add_person(db, person_id)
    _, admin = await create_key(db, "admin", None, label="schemathesis")
    _, institution = await create_key(db, "institution", H3, label="schemathesis")
    examples = int(os.environ.get(EXAMPLES_ENV) or DEFAULT_EXAMPLES)
    started = time.monotonic()
    failures, calls = await asyncio.to_thread(
        run_schemathesis, test_settings, {"admin": admin, "institution": institution}, examples
    )
    print(f"schemathesis: {calls} calls, {examples} examples per operation/key/mode, "
          f"{time.monotonic() - started:.1f} s, {len(failures)} failures")
    assert calls > 100
    assert not failures, "\n".join(failures)
