"""The real thing: `triage serve --train-if-missing` in its own process, called over HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from model.registry import publish
from tests.server_process import free_port, start_serve, stop
from tests.service.conftest import ADMIN_KEY, PREDICT_KEY, SUPPORT_SV

REPO = Path(__file__).resolve().parents[2]
MARKER = "Qwertzu-ticket-marker"
START_SECONDS = 90  # trains a small model first




@pytest.fixture
def server(tmp_path: Path, tiny_tickets_file: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes], Path]]:
    """A running `triage serve` on a free loopback port with an empty registry, API keys and a SQLite queue."""
    port, registry, log = free_port(), tmp_path / "models", tmp_path / "server.log"
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{PREDICT_KEY}:predict\n{ADMIN_KEY}:admin,predict\n")
    keys.chmod(0o600)  # a key file others could read is refused
    env = {"TRIAGE_TRAINING_DATA": str(tiny_tickets_file), "TRIAGE_WATCH_INTERVAL": "0.2", "TRIAGE_THRESHOLDS": '{"delivery": 1.0, "support": 1.0}'}
    args = ["--registry", str(registry), "--api-keys-file", str(keys), "--database", f"sqlite:///{tmp_path / 'var' / 'reviews.db'}", "--train-if-missing"]
    process = start_serve(args, tmp_path, env, port, START_SECONDS)
    try:
        yield f"http://127.0.0.1:{port}", registry, process, log
    finally:
        stop(process)


def test_served_over_http_with_keys_review_queue_hot_swap_and_json_logs(server, model_b: Path) -> None:
    base, registry, process, log = server
    predict_headers = {"Authorization": f"Bearer {PREDICT_KEY}", "X-Request-ID": "http-test-1"}
    r = httpx.post(f"{base}/v1/predict", json={**SUPPORT_SV, "body": f"{SUPPORT_SV['body']} {MARKER}"}, headers=predict_headers)
    assert r.status_code == 200, f"a keyed prediction over HTTP should work: {r.text}"
    request_id = r.headers["x-request-id"]
    assert request_id != "http-test-1", "the service makes the request id; the client's is logged beside it"
    assert r.json()["route"] == "review" and r.json()["review_queued"] is True, f"thresholds of 1.0 send it to the review queue: {r.json()}"
    assert httpx.post(f"{base}/v1/predict", json=SUPPORT_SV).status_code == 401, "without a key the server answers 401"
    first = httpx.get(f"{base}/v1/model", headers=predict_headers).json()["version"]

    publish(model_b, registry)  # the running server should pick it up by itself
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and httpx.get(f"{base}/v1/model", headers=predict_headers).json()["version"] == first:
        time.sleep(0.1)
    assert httpx.get(f"{base}/v1/model", headers=predict_headers).json()["version"] != first, "the watcher swaps in a published version"
    assert 'triage_model_reloads_total{outcome="swapped"} 1.0' in httpx.get(f"{base}/metrics").text, "the swap is counted"

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it.
    assert process.wait(timeout=15) == -signal.SIGTERM, "SIGTERM stops the server"
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e["message"] == "Application shutdown complete." for e in entries), f"the shutdown is graceful: {lines[-5:]}"
    assert any(e.get("request_id") == request_id and e.get("client_request_id") == "http-test-1" and e["message"] == "request"
               for e in entries), "the access log has the request id and the client's"
    assert any("trained and published" in e["message"] for e in entries), "--train-if-missing trained a model first"
    text = "\n".join(lines)
    assert MARKER not in text and PREDICT_KEY not in text and ADMIN_KEY not in text, "no ticket text or key in the logs"
