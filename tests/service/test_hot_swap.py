"""Hot swap: a new registry version replaces the model without a restart and without a failed
request; a version that fails verification is refused and the old one keeps serving.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from model.registry import CURRENT_FILE, MODEL_FILE, publish
from tests.service.conftest import ADMIN_KEY, KEYS, PREDICT_KEY, SUPPORT_SV, ClientFactory

HAMMER_THREADS = 6


def _version(model_dir: Path) -> str:
    return str(json.loads((model_dir / "metadata.json").read_text())["version"])


def test_reload_under_concurrent_requests_fails_none(make_client: ClientFactory, registry: Path, model_a: Path, model_b: Path) -> None:
    client = make_client(model=None, registry=registry, api_keys=KEYS)
    old, new = _version(model_a), _version(model_b)
    outcomes: Counter[tuple[int, str]] = Counter()
    seen_after_swap: list[str] = []
    swapped = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()

    def hammer() -> None:
        while not stop.is_set():
            started_after_swap = swapped.is_set()
            r = client.post("/v1/predict", json=SUPPORT_SV, headers={"X-API-Key": PREDICT_KEY})
            version = r.json().get("model_version", "") if r.status_code == 200 else r.text
            with lock:
                outcomes[(r.status_code, version)] += 1
                if started_after_swap:
                    seen_after_swap.append(version)

    threads = [threading.Thread(target=hammer) for _ in range(HAMMER_THREADS)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    publish(model_b, registry)
    r = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    swapped.set()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()

    assert r.status_code == 200 and r.json() == {"previous_version": old, "version": new, "changed": True, "message": f"now serving {new}"}, r.text
    assert all(status == 200 for status, _ in outcomes), f"no request may fail during a swap: {outcomes}"
    assert {v for _, v in outcomes} <= {old, new} and outcomes[(200, old)] > 0, f"requests are served by the old, then the new model: {outcomes}"
    assert seen_after_swap and all(v == new for v in seen_after_swap), "every request started after the swap uses the new version"
    assert client.get("/v1/model", headers={"X-API-Key": PREDICT_KEY}).json()["version"] == new, "the model endpoint shows the new version"
    assert 'triage_model_info{created="' in client.get("/metrics").text and new in client.get("/metrics").text, "metrics show the new version"


def test_watcher_picks_up_a_published_version(make_client: ClientFactory, registry: Path, model_b: Path) -> None:
    client = make_client(model=None, registry=registry, watch_interval=0.1)
    publish(model_b, registry)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and client.get("/v1/model").json()["version"] != _version(model_b):
        time.sleep(0.05)
    assert client.get("/v1/model").json()["version"] == _version(model_b), "the watcher should swap in the registry's new CURRENT"
    assert client.post("/v1/predict", json=SUPPORT_SV).json()["model_version"] == _version(model_b), "predictions use the new version"


def _publish_tampered(model_dir: Path, registry: Path, staging: Path) -> str:
    """Put a copy of a model with one changed byte into the registry and point CURRENT at it."""
    version = publish(model_dir, staging)
    with open(staging / version / MODEL_FILE, "r+b") as f:  # as a damaged copy or an attack would leave it
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))
    shutil.move(staging / version, registry / version)
    (registry / CURRENT_FILE).write_text(version + "\n")
    return version


def test_tampered_version_is_refused_and_the_old_model_keeps_serving(make_client: ClientFactory, registry: Path, model_a: Path,
                                                                     model_b: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(model=None, registry=registry, watch_interval=0.05)
    _publish_tampered(model_b, registry, tmp_path / "staging")
    refusals = 'triage_model_reloads_total{outcome="refused"}'
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and refusals not in client.get("/metrics").text:
        time.sleep(0.05)
    time.sleep(0.5)  # ten more watcher polls
    assert f"{refusals} 1.0" in client.get("/metrics").text, "the watcher refuses a bad version once, not at every poll"
    served = client.post("/v1/predict", json=SUPPORT_SV)
    assert served.status_code == 200 and served.json()["model_version"] == _version(model_a), "the old model keeps serving"

    r = client.post("/v1/admin/reload")
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_refused", f"a tampered model should be refused: {r.text}"
    assert "sha256" in r.json()["error"]["message"] and _version(model_a) in r.json()["error"]["message"], "the message says why and what serves"
    assert client.get("/v1/model").json()["version"] == _version(model_a), "the old model is still in service"
    refused = [rec for rec in caplog.records if rec.getMessage() == "model refused; the old one keeps serving"]
    assert len(refused) == 2 and refused[0].levelname == "ERROR", "each refusal is logged as an error"
