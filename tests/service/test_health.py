"""Probes, Prometheus metrics, request ids and the OpenAPI documentation of every endpoint."""

from __future__ import annotations

import re

from service.app import create_app
from service.metrics import REVIEW_RATE_WINDOW, Metrics
from tests.service.conftest import ROUTE_ALL, SUPPORT_SV, ClientFactory, SettingsFactory, TestClient


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}, "healthz answers while the process lives"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", f"a loaded model makes the service ready: {ready.text}"
    assert ready.json()["review_store"] == "ok" and ready.json()["review_buffer"] == 0, "readyz reports the review queue"


def test_readyz_is_503_before_the_model_is_loaded(make_settings: SettingsFactory) -> None:
    client = TestClient(create_app(make_settings()))  # no `with`: the lifespan has not run
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready", f"without a model the service is not ready: {r.text}"
    assert "no model is loaded" in r.json()["error"]["message"], "the reason is given"


def test_metrics_count_requests_routes_review_rate_and_version(make_client: ClientFactory) -> None:
    client = make_client(**ROUTE_ALL)
    for _ in range(3):
        client.post("/v1/predict", json=SUPPORT_SV)
    client.post("/v1/predict", json={"body": ""})
    text = client.get("/metrics").text
    assert 'triage_requests_total{endpoint="/v1/predict",method="POST",status="200"} 3.0' in text, "requests by endpoint and status"
    assert 'triage_requests_total{endpoint="/v1/predict",method="POST",status="422"} 1.0' in text, "errors are counted by status"
    assert 'triage_request_duration_seconds_bucket{endpoint="/v1/predict",le="0.5"}' in text, "a latency histogram per endpoint"
    assert 'triage_routes_total{label="support",route="support"} 3.0' in text, "routes taken per label"
    assert "triage_review_rate 0.0" in text, "the review rate (nothing went to review here)"
    version = client.get("/v1/model").json()["version"]
    assert re.search(rf'triage_model_info\{{created="[^"]+",version="{version}"\}} 1.0', text), "the model version as an info metric"


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123", "a given id is echoed"
    generated = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated), "an id is generated when none is given"
    forged = client.get("/healthz", headers={"X-Request-ID": 'x"\n{"level": "error"}'}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged), "an id that could forge log lines is replaced"


def test_openapi_documents_every_endpoint_and_error(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        ("/v1/predict", "post"): {"400", "401", "403", "413", "415", "422"},
        ("/v1/predict/batch", "post"): {"400", "401", "403", "413", "415", "422"},
        ("/v1/model", "get"): {"401", "403"},
        ("/v1/admin/reload", "post"): {"401", "403", "409"},
        ("/readyz", "get"): {"503"},
    }
    for (path, method), errors in expected.items():
        operation = spec["paths"][path][method]
        assert operation.get("description"), f"{method.upper()} {path} needs a docstring"
        documented = {code for code in operation["responses"] if code != "200"}
        assert documented == errors, f"{method.upper()} {path} should document {sorted(errors)}, has {sorted(documented)}"
        for code in errors:
            ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse"), f"{path} {code} should use the ErrorResponse schema"
    for path in ("/healthz", "/metrics"):
        assert spec["paths"][path]["get"].get("description"), f"{path} needs a docstring"
    assert "HTTPValidationError" not in spec["components"]["schemas"], "FastAPI's own 422 schema should not appear"
    items = spec["components"]["schemas"]["BatchRequest"]["properties"]["tickets"]["items"]
    assert items == {"$ref": "#/components/schemas/PredictRequest"}, "batch tickets are documented as PredictRequest"
    assert {"bearer", "x-api-key"} <= {s["scheme"] if "scheme" in s else s.get("name", "").lower()
                                       for s in spec["components"]["securitySchemes"].values()}, "both key headers are documented"


def test_review_rate_covers_the_most_recent_predictions() -> None:
    metrics = Metrics()
    metrics.observe_routes([("review", "support")] * REVIEW_RATE_WINDOW, "review")
    assert metrics.registry.get_sample_value("triage_review_rate") == 1.0, "all recent predictions went to review"
    metrics.observe_routes([("support", "support")] * (REVIEW_RATE_WINDOW // 4), "review")
    assert metrics.registry.get_sample_value("triage_review_rate") == 0.75, "older predictions fall out of the window"
