"""Structured logs: JSON lines with the request id; no ticket text, key or exception message in them."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from service.logs import JsonFormatter, configure_logging, request_id_var
from tests.service.conftest import KEYS, PREDICT_KEY, REVIEW_ALL, ClientFactory

MARKER = "Zyxwvuts-ticket-marker"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, formatted as the service formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_formatter_writes_fields_and_request_id_but_no_exception_message() -> None:
    try:
        raise ValueError(f"bad ticket: {MARKER}")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "failed", (), exc_info, extra={"fields": {"n": 2}})
    token = request_id_var.set("req-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "failed" and entry["n"] == 2 and entry["request_id"] == "req-1", f"fields and request id: {entry}"
    assert entry["exception"] == "ValueError" and entry["stack"], "the exception's type and frames are kept"
    assert MARKER not in line, "an exception message (which may quote a ticket) is never written"


def test_request_logs_are_json_with_request_id_and_no_text_or_key(shared_client: ClientFactory, log_lines: io.StringIO) -> None:
    client = shared_client(api_keys=KEYS, **REVIEW_ALL)
    r = client.post("/v1/predict", json={"id": "L-1", "body": f"Hej, synken fungerar inte {MARKER}"},
                    headers={"Authorization": f"Bearer {PREDICT_KEY}", "X-Request-ID": "trace-42"})
    assert r.status_code == 200, r.text
    client.post("/v1/predict", content=f'{{"body": "{MARKER}"'.encode(), headers={"X-API-Key": PREDICT_KEY, "content-type": "application/json"})
    client.post("/v1/predict", json={"body": MARKER}, headers={"X-API-Key": "wrong-" + PREDICT_KEY})
    text = log_lines.getvalue()
    entries = [json.loads(line) for line in text.splitlines()]
    access = [e for e in entries if e["message"] == "request" and e.get("client_request_id") == "trace-42"]
    assert access and access[0]["status"] == 200 and access[0]["endpoint"] == "/v1/predict", f"one access line per request: {entries}"
    assert access[0]["request_id"] == r.headers["x-request-id"], "the access line has the service's id, the one the response carries"
    assert MARKER not in text, "ticket text must never be logged"
    assert PREDICT_KEY not in text, "API keys must never be logged"


def test_unexpected_error_is_a_500_with_the_error_shape_and_a_clean_log(make_client: ClientFactory, log_lines: io.StringIO,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client()
    model = client.app.state.services.holder.current

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"exploded on {MARKER}")

    monkeypatch.setattr(model, "predict_cleaned", broken)  # the call the predict endpoint makes
    r = client.post("/v1/predict", json={"body": "Hej, synken fungerar inte"})
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error", f"an internal failure is a 500 with the error body: {r.text}"
    request_id = r.headers["x-request-id"]
    errors = [json.loads(line) for line in log_lines.getvalue().splitlines() if '"unhandled error"' in line]
    assert errors and errors[0]["request_id"] == request_id and errors[0]["exception"] == "RuntimeError", "logged under the request id"
    assert MARKER not in log_lines.getvalue(), "the exception's message is not logged"


def test_log_lines_are_bounded_and_escape_what_could_break_or_disguise_them() -> None:
    tricky = "a\u202eb\u2028c\u2029d\x85e\x9bf\u200bg\U000e0041h"  # RLO, line and paragraph separators, C1 controls, invisibles
    record = logging.getLogger("t").makeRecord("t", logging.INFO, __file__, 1, tricky, (), None,
                                               extra={"fields": {"path": "/x" * 50_000, "reason": tricky, "items": list(range(1000))}})
    line = JsonFormatter().format(record)
    assert len(line) < 5_000, f"a log line is bounded, whatever a value holds: {len(line)} characters"
    assert line.isprintable(), f"no raw control, separator or format character reaches the log: {line[:200]!r}"
    entry = json.loads(line)
    assert entry["message"] == tricky and entry["reason"] == tricky, "escaped characters are still there for whoever reads the JSON"
    assert entry["path"].endswith("more characters]") and len(entry["items"]) == 50, f"long values are cut, saying so: {entry['path'][-40:]}"


def test_the_access_log_names_the_route_never_the_path_as_sent(shared_client: ClientFactory, log_lines: io.StringIO) -> None:
    client = shared_client()
    client.get("/review/items/1/anna.svensson@example.se")
    client.get("/v1/review/items/7")
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    service_lines = [e for e in entries if not e["logger"].startswith("httpx")]  # the test's own client logs its URLs
    access = [e for e in service_lines if e["message"] == "request"]
    assert "anna.svensson" not in json.dumps(service_lines), "a path's personal data never reaches the service's log"
    assert [e["endpoint"] for e in access] == ["unmatched", "/v1/review/items/{item_id}"], f"the route template stands for the path: {access}"
    assert all("path" not in e for e in access), "no raw path is logged"


def test_a_client_request_id_is_kept_beside_the_services_own(shared_client: ClientFactory, log_lines: io.StringIO) -> None:
    client = shared_client()
    answers = [client.get("/healthz", headers={"X-Request-ID": "someone-elses-id"}) for _ in range(2)]
    access = [json.loads(line) for line in log_lines.getvalue().splitlines() if '"message": "request"' in line]
    assert [e["client_request_id"] for e in access] == ["someone-elses-id"] * 2, f"the client's id is logged as it was sent: {access}"
    assert [e["request_id"] for e in access] == [r.headers["x-request-id"] for r in answers], "each line has the id its response carries"
    assert access[0]["request_id"] != access[1]["request_id"], "two requests never share an id, whatever the client sends"


def test_logs_go_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging("INFO")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logging.getLogger("triage.test").info("one")
    first.close()  # as a test's captured stderr is, once the test is over
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("triage.test").info("two")
    assert '"two"' in second.getvalue(), "a record goes to the stderr in place when it is written, never to a closed one"
