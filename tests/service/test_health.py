"""Probes, Prometheus metrics, request ids and the OpenAPI documentation of every endpoint."""

from __future__ import annotations

import re

from service.app import create_app
from service.metrics import REVIEW_RATE_WINDOW, Metrics
from tests.service.conftest import LOCAL_URL, ROUTE_ALL, SUPPORT_SV, ClientFactory, SettingsFactory, TestClient


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}, "healthz answers while the process lives"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", f"a loaded model makes the service ready: {ready.text}"
    assert ready.json()["review_store"] == "ok" and ready.json()["review_buffer"] == 0, "readyz reports the review queue"


def test_readyz_is_503_before_the_model_is_loaded(make_settings: SettingsFactory) -> None:
    client = TestClient(create_app(make_settings()), base_url=LOCAL_URL)  # no `with`: the lifespan has not run
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


def test_every_request_gets_an_id_of_its_own(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated), "an id is generated when none is given"
    ids = [client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] for _ in range(2)]
    assert "abc-123" not in ids and len(set(ids)) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), \
        f"a client's X-Request-ID never becomes the id, so it cannot reuse another request's: {ids}"
    forged = client.get("/healthz", headers={"X-Request-ID": 'x"\n{"level": "error"}'}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged), "an id that could forge log lines is replaced"


def test_openapi_documents_every_endpoint_and_error(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        ("/v1/predict", "post"): {"400", "401", "403", "408", "413", "415", "422", "429", "503"},
        ("/v1/predict/batch", "post"): {"400", "401", "403", "408", "413", "415", "422", "429"},
        ("/v1/model", "get"): {"401", "403", "429"},
        ("/v1/admin/reload", "post"): {"401", "403", "409", "429"},
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


def test_metric_labels_come_from_closed_sets(make_client: ClientFactory) -> None:
    client = make_client()
    for n in range(40):
        client.request(f"FOO{n}", "/healthz")
    client.get(f"/no/such/{'x' * 500}")
    text = client.get("/metrics").text
    series = [line for line in text.splitlines() if line.startswith("triage_requests_total{")]
    assert 'triage_requests_total{endpoint="/healthz",method="other",status="405"} 40.0' in series, f"made-up methods count as 'other': {series}"
    assert not any("FOO" in line or "xxx" in line for line in text.splitlines()), "no label value a client made up"
    assert len(series) <= 5, f"40 made-up methods and a made-up path add no series of their own: {series}"


def test_review_label_metrics_keep_to_the_models_labels() -> None:
    metrics = Metrics()
    metrics.set_model("v1", "2026-01-01", ["delivery", "support"])
    metrics.set_review_agreement(0.5, {"support": 2, "made-up-1": 1, "made-up-2": 1}, {"support": 1.0, "made-up-1": 0.0, "made-up-2": 0.0})
    text = metrics.render().decode()
    assert 'triage_review_decisions{label="other"} 2.0' in text and 'triage_review_decisions{label="support"} 2.0' in text, \
        f"a decided label the model does not have is counted under 'other': {text}"
    assert "made-up" not in text, "no label value from the database's rows"
    metrics.set_review_agreement(None, {}, {})
    assert 'triage_review_decisions{label="support"}' not in metrics.render().decode(), "labels no longer decided are removed"
