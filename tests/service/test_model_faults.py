"""Damaged model files: every kind is refused with its reason, at start-up (`triage serve` exits 2
with the reason) and by a running service (409 on reload, the watcher logs it), which keeps serving
its current model and stays ready. A service never runs without a model: with none it does not
start, and before its start-up has loaded one /readyz answers 503 with the reason (tests/service/test_health.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import model.predictor as predictor_module
from model.registry import CURRENT_FILE, METADATA_FILE, MODEL_FILE, SIGNATURE_FILE, ModelError, publish, read_metadata, rollback
from model.signature import KEY_FILE_ENV, sign
from service.config import load_settings
from service.startup import preflight
from tests.conftest import sign_metadata
from tests.service.conftest import SUPPORT_SV, ClientFactory

TRIAGE = Path(sys.executable).with_name("triage")


def _edit_metadata(change: Callable[[dict], object], signed: bool = True) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        meta = json.loads((directory / METADATA_FILE).read_text())
        (directory / METADATA_FILE).write_text(json.dumps(change(meta)))
        if signed:
            sign_metadata(directory)
    return damage


def _flip_first_byte(directory: Path) -> None:
    data = bytearray((directory / MODEL_FILE).read_bytes())
    data[0] ^= 0xFF
    (directory / MODEL_FILE).write_bytes(bytes(data))


def _garbage_with_its_hash(directory: Path) -> None:
    """Replace the model with junk and record the junk's sha256, as a careless (or hostile) edit would."""
    (directory / MODEL_FILE).write_bytes(b"PK\x03\x04 not a model " * 100)
    meta = json.loads((directory / METADATA_FILE).read_text())
    meta["artifacts"][MODEL_FILE] = hashlib.sha256((directory / MODEL_FILE).read_bytes()).hexdigest()
    (directory / METADATA_FILE).write_text(json.dumps(meta))
    sign_metadata(directory)


def _without(key: str) -> Callable[[dict], dict]:
    return lambda meta: {k: v for k, v in meta.items() if k != key}


# damage -> (how to do it to a model directory, what the refusal must say)
DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "tampered": (_flip_first_byte, "model.skops does not match its sha256"),
    "truncated": (lambda d: (d / MODEL_FILE).write_bytes((d / MODEL_FILE).read_bytes()[:1000]), "model.skops does not match its sha256"),
    "missing": (lambda d: (d / MODEL_FILE).unlink(), "model.skops is missing"),
    "other scikit-learn": (_edit_metadata(lambda m: {**m, "libraries": {**m["libraries"], "scikit-learn": "0.24.2"}}),
                           "saved with scikit-learn 0.24.2, but .* is installed; retrain"),
    "junk with its hash": (_garbage_with_its_hash, "model.skops could not be loaded"),
    "metadata not JSON": (lambda d: ((d / METADATA_FILE).write_text('{"version": '), sign_metadata(d)), "metadata.json: unreadable"),
    "thresholds edited without the key": (_edit_metadata(lambda m: {**m, "thresholds": {k: 0.5 for k in m["thresholds"]}}, signed=False),
                                          "metadata.json: it does not match its signature"),
    "unsigned": (lambda d: (d / SIGNATURE_FILE).unlink(), "metadata.json is not signed"),
    "signed with another key": (lambda d: (d / SIGNATURE_FILE).write_bytes(sign((d / METADATA_FILE).read_bytes(), b"k" * 32)),
                                "signed with another registry key"),
    "version leading out of the registry": (_edit_metadata(lambda m: {**m, "version": "../../x"}), "'version' is not a plain version name"),
    "artifact outside the directory": (_edit_metadata(lambda m: {**m, "artifacts": {**m["artifacts"], "../__init__.py": "0" * 64}}),
                                       "'artifacts' lists files a model directory does not hold"),
    "metadata not an object": (_edit_metadata(lambda m: [m]), "metadata.json: not a JSON object"),
    "metadata without thresholds": (_edit_metadata(_without("thresholds")), "'thresholds' does not give one threshold per label"),
    "metadata without labels": (_edit_metadata(_without("labels")), "'labels' is not a list"),
}


def _damaged_copy(model_dir: Path, folder: Path, damage: str) -> Path:
    copy = folder / f"damaged-{damage.replace(' ', '-')}"
    shutil.copytree(model_dir, copy)
    DAMAGES[damage][0](copy)
    return copy


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_running_service_refuses_a_damaged_version_and_keeps_serving(make_client: ClientFactory, registry: Path, model_a: Path,
                                                                       model_b: Path, tmp_path: Path, damage: str) -> None:
    client = make_client(model=None, registry=registry)
    serving = client.get("/v1/model").json()["version"]
    damaged = _damaged_copy(model_b, tmp_path, damage)
    shutil.move(damaged, registry / "99991231-000000-damaged")
    (registry / CURRENT_FILE).write_text("99991231-000000-damaged\n")
    r = client.post("/v1/admin/reload")
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_refused", f"a {damage} model should be refused: {r.status_code} {r.text}"
    message = r.json()["error"]["message"]
    assert re.search(DAMAGES[damage][1], message), f"the refusal should say why ({DAMAGES[damage][1]!r}): {message}"
    assert serving in message, "the refusal says which version keeps serving"
    answer = client.post("/v1/predict", json=SUPPORT_SV)
    assert answer.status_code == 200 and answer.json()["model_version"] == serving, "the current model keeps serving"
    assert client.get("/readyz").status_code == 200, "the service stays ready on its current model"


def test_a_registry_that_vanishes_leaves_the_current_model_serving(make_client: ClientFactory, registry: Path) -> None:
    client = make_client(model=None, registry=registry)
    serving = client.get("/v1/model").json()["version"]
    shutil.rmtree(registry)
    r = client.post("/v1/admin/reload")
    assert r.status_code == 409 and "holds no model version" in r.json()["error"]["message"], f"a reload with no registry is refused: {r.text}"
    assert client.post("/v1/predict", json=SUPPORT_SV).json()["model_version"] == serving, "the model in memory keeps serving"
    assert client.get("/readyz").json()["model_version"] == serving, "and the service stays ready"


@pytest.mark.parametrize("damage", DAMAGES)
def test_start_up_refuses_a_damaged_model_with_the_reason(model_b: Path, tmp_path: Path, damage: str) -> None:
    settings = load_settings({"model": _damaged_copy(model_b, tmp_path, damage), "database_url": f"sqlite:///{tmp_path / 'r.db'}", "port": 1})
    with pytest.raises(ModelError, match=DAMAGES[damage][1]):
        preflight(settings, settings.model)  # type: ignore[arg-type]  # what `triage serve` runs before it starts the server


@pytest.mark.parametrize(("arguments", "reason"), [
    (["--registry", "empty-registry"], "the model registry empty-registry holds no model: publish one"),
    (["--model", "{damaged}"], "model.skops could not be loaded"),
])
def test_triage_serve_exits_2_with_the_reason_when_it_has_no_usable_model(model_b: Path, tmp_path: Path, arguments: list[str], reason: str) -> None:
    damaged = _damaged_copy(model_b, tmp_path, "junk with its hash")
    command = [str(TRIAGE), "serve", "--port", "1", "--database", f"sqlite:///{tmp_path / 'r.db'}", *(a.format(damaged=damaged) for a in arguments)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": str(TRIAGE.parent), "HOME": str(tmp_path), KEY_FILE_ENV: os.environ[KEY_FILE_ENV]})
    assert done.returncode == 2, f"no usable model: exit status 2, got {done.returncode}: {done.stderr[-2000:]}"
    assert done.stderr.startswith("triage serve: error: ") and reason in done.stderr, f"one line with the reason: {done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, "a message, not a traceback"


def test_any_exception_while_loading_refuses_the_version_once(make_client: ClientFactory, registry: Path, model_b: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(model=None, registry=registry, watch_interval=0.05)
    serving = client.get("/v1/model").json()["version"]

    def broken_fast_path(*args: object) -> None:
        raise IndexError("index 70000 is out of bounds for axis 0 with size 6000")  # what a model of mismatched arrays raised

    monkeypatch.setattr(predictor_module, "FastScorer", broken_fast_path)
    publish(model_b, registry)
    refusals = 'triage_model_reloads_total{outcome="refused"}'
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and refusals not in client.get("/metrics").text:
        time.sleep(0.05)
    time.sleep(0.5)  # ten more watcher polls
    assert f"{refusals} 1.0" in client.get("/metrics").text, "the watcher refuses the version once and does not retry it at every poll"
    r = client.post("/v1/admin/reload")
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_refused", f"a reload answers 409, not 500: {r.status_code} {r.text}"
    assert "IndexError" in r.json()["error"]["message"] and serving in r.json()["error"]["message"], r.text
    assert client.post("/v1/predict", json=SUPPORT_SV).json()["model_version"] == serving, "the old model keeps serving"


@pytest.mark.parametrize("current", [None, "20000101-000000-unknown", "../elsewhere"])
def test_a_deleted_or_unknown_current_keeps_the_served_model(make_client: ClientFactory, registry: Path, model_a: Path, model_b: Path,
                                                             tmp_path: Path, caplog: pytest.LogCaptureFixture, current: str | None) -> None:
    newer = publish(model_b, registry)
    older = rollback(registry, read_metadata(model_a)["version"])
    assert newer > older, "the rolled-back-from version is the newest"
    shutil.copytree(model_b, tmp_path / "elsewhere")
    client = make_client(model=None, registry=registry, watch_interval=0.05)
    assert client.get("/v1/model").json()["version"] == older
    if current is None:
        (registry / CURRENT_FILE).unlink()
    else:
        (registry / CURRENT_FILE).write_text(current + "\n")
    time.sleep(0.6)  # a dozen watcher polls
    assert client.get("/v1/model").json()["version"] == older, "the rollback stands: the newest version is not swapped in"
    failures = [rec for rec in caplog.records if rec.getMessage().startswith("registry check failed")]
    assert len(failures) == 1, f"the broken CURRENT is logged once, not at every poll: {len(failures)} records"
    r = client.post("/v1/admin/reload")
    assert r.status_code == 409 and "CURRENT" in r.json()["error"]["message"], f"a reload is refused with the reason: {r.status_code} {r.text}"
    assert client.get("/readyz").status_code == 200, "the service stays ready on the model it serves"
