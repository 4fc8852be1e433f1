"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis, in-process ASGI).

Properties: no input ever gets a 5xx; valid requests get answers that conform to the schema;
and a province token never gets a 200 for another province's data, whatever the input.

The operations' Hypothesis strategies are driven directly: schemathesis' lazy pytest loader
(`schemathesis.pytest.from_fixture`) reads `Node._nodeid`, which pytest 9 removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service.conftest import A, D, Service, bearer

EXAMPLES_PER_OPERATION = 15
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [not_a_server_error, content_type_conformance]
OWN = {"run_id": "latest", "province": "44", "credit_code": A, "file_format": "xlsx"}
OTHER = {"run_id": "latest", "province": "11", "credit_code": D, "file_format": "xlsx"}
STATUSES: list[int] = []  # every answer, to check the fuzzing reached real data


@pytest.fixture(scope="module")
def api_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz_every_operation(
    api_schema: Any,
    mode: GenerationMode,
    token: str,
    checks: list[Any],
    assertion: Callable[[Any, Any], None] = lambda case, response: None,
    pin: dict[str, str] | None = None,
) -> int:
    """Run each operation's strategy; returns how many operations were exercised."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    exercised = len(operations)
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        pinned = {k: v for k, v in (pin or {}).items() if k in names}
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=pinned or None)

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(headers=bearer(token))
            STATUSES.append(response.status_code)
            case.validate_response(response, checks=checks)
            assertion(case, response)

        try:
            run()
        except Unsatisfiable:
            if mode != GenerationMode.NEGATIVE:
                raise
            exercised -= 1  # nothing to make invalid (e.g. no parameters at all)
        except Exception as exc:
            exc.add_note(f"operation: {operation.label} ({mode})")
            raise
    return exercised


def own_province_only(case: Any, response: Any) -> None:
    params = case.path_parameters or {}
    if response.status_code != 200:
        return
    assert params.get("province") in (None, "44"), f"province 44 read {case.formatted_path}"
    if "credit_code" in params and case.path.startswith("/api/"):
        assert response.json()["province"] == "44", case.formatted_path


def test_every_operation_is_in_the_schema(api_schema: Any) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert "GET /api/v1/runs/{run_id}/provinces/{province}/invitations" in labels
    assert "GET /api/v1/runs/{run_id}/firms/{credit_code}" in labels
    assert "POST /login" in labels and len(labels) >= 15


def test_valid_inputs_conform_and_never_fail(api_schema: Any, service_files: Service) -> None:
    token = service_files.tokens.ministry
    assert fuzz_every_operation(api_schema, GenerationMode.POSITIVE, token, POSITIVE_CHECKS)


def test_invalid_inputs_are_refused_without_server_errors(
    api_schema: Any, service_files: Service
) -> None:
    token = service_files.tokens.ministry
    exercised = fuzz_every_operation(api_schema, GenerationMode.NEGATIVE, token, NEGATIVE_CHECKS)
    assert exercised >= 10


def test_province_token_fuzzed_on_its_own_data(api_schema: Any, service_files: Service) -> None:
    # Paths pinned to data that exists, so that filters, sorting and paging meet real rows.
    STATUSES.clear()
    token = service_files.tokens.guangdong
    fuzz_every_operation(
        api_schema, GenerationMode.POSITIVE, token, POSITIVE_CHECKS, own_province_only, pin=OWN
    )
    assert STATUSES.count(200) >= 50


@pytest.mark.parametrize("pin", [None, OTHER], ids=["random-paths", "another-province"])
def test_province_token_never_reads_another_province(
    api_schema: Any, service_files: Service, pin: dict[str, str] | None
) -> None:
    token = service_files.tokens.guangdong
    fuzz_every_operation(
        api_schema, GenerationMode.POSITIVE, token, POSITIVE_CHECKS, own_province_only, pin=pin
    )
