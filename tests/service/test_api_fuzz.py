"""Schema-driven fuzzing of the whole HTTP API (schemathesis, in-process against the ASGI app).

Every operation in the app's OpenAPI schema gets generated requests, valid ones and invalid ones,
sent with a key holding every role. The service must never answer 5xx, and every answer must be
one the schema documents for that operation: status code, content type, headers and body; an
invalid request must be refused with a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.config import load_settings
from tests.service.conftest import DELIVERY_SV, REVIEW_ALL, SUPPORT_SV, TestClient

ALL_ROLES_KEY = "all-roles-key-0123456789abcdef"
HEADERS = {"X-API-Key": ALL_ROLES_KEY}
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES_PER_OPERATION = 25
# Operations that accept some requests the schema calls invalid, on purpose (negative_data_rejection is not run on them):
LENIENT = {
    # each ticket of a batch is checked on its own and a bad one gets an error entry, so the batch is not refused
    ("POST", "/v1/predict/batch"),
    # `since` is parsed by pydantic, which also takes a number as a Unix time
    ("GET", "/v1/review/export"),
}


def documented_operations() -> list[tuple[str, str, bool]]:
    """(METHOD, path, takes input) of every operation in the app's OpenAPI schema (from an app that is never started)."""
    spec = create_app(load_settings({"model": None, "watch_interval": 0})).openapi()
    return sorted((method.upper(), path, bool(operation.get("parameters") or operation.get("requestBody")))
                  for path, methods in spec["paths"].items() for method, operation in methods.items())


OPERATIONS = documented_operations()
# Invalid requests can only be made for operations that take parameters or a body.
CASES = [(method, path, mode) for method, path, takes_input in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input or mode is GenerationMode.POSITIVE]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, model_a: Path) -> Iterator[schemathesis.BaseSchema]:
    """The app's own OpenAPI schema, bound to the running app (keys, SQLite queue with a few items)."""
    folder = tmp_path_factory.mktemp("fuzz")
    app_settings = load_settings({"model": model_a, "database_url": f"sqlite:///{folder / 'reviews.db'}", "watch_interval": 0,
                                  "api_keys": f"{ALL_ROLES_KEY}:predict,review,admin", **REVIEW_ALL})
    app = create_app(app_settings)
    with TestClient(app) as client:  # a queue with items, so review operations also find something
        for ticket in (SUPPORT_SV, DELIVERY_SV, {"body": "Hej, synken har stannat"}):
            assert client.post("/v1/predict", json=ticket, headers=HEADERS).json()["review_queued"], "fixture tickets are queued"
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    schemathesis_asgi.shutdown_lifespans()  # schemathesis started the app's lifespan; this closes the review store


def test_every_operation_of_the_running_app_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    live = sorted((op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations())
    assert live == [(method, path) for method, path, _ in OPERATIONS], "the operations fuzzed below should be those of the running app"


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {'valid' if g is GenerationMode.POSITIVE else 'invalid'}" for m, p, g in CASES])
def test_no_5xx_and_every_answer_is_documented(api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    rejects_invalid = mode is GenerationMode.NEGATIVE and (method, path) not in LENIENT
    checks = CHECKS + ([negative_data_rejection] if rejects_invalid else [])

    cases = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE:
        # A scalar query parameter given twice is not refused: the last one counts (FastAPI's way, as most servers').
        cases = cases.filter(lambda case: not any(isinstance(value, list) for value in (case.query or {}).values()))

    @given(case=cases)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=HEADERS, checks=checks)

    fuzz()
