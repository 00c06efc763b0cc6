"""Damaged model files: every kind is refused with its reason, at start-up (`triage serve` exits 2
with the reason) and by a running service (409 on reload, the watcher logs it), which keeps serving
its current model and stays ready. A service never runs without a model: with none it does not
start, and before its start-up has loaded one /readyz answers 503 with the reason (tests/service/test_health.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from model.registry import CURRENT_FILE, METADATA_FILE, MODEL_FILE, ModelError
from service.config import load_settings
from service.startup import preflight
from tests.service.conftest import SUPPORT_SV, ClientFactory

TRIAGE = Path(sys.executable).with_name("triage")


def _edit_metadata(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        meta = json.loads((directory / METADATA_FILE).read_text())
        (directory / METADATA_FILE).write_text(json.dumps(change(meta)))
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
    "metadata not JSON": (lambda d: (d / METADATA_FILE).write_text('{"version": '), "metadata.json: unreadable"),
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
                          env={"PATH": str(TRIAGE.parent), "HOME": str(tmp_path)})
    assert done.returncode == 2, f"no usable model: exit status 2, got {done.returncode}: {done.stderr[-2000:]}"
    assert done.stderr.startswith("triage serve: error: ") and reason in done.stderr, f"one line with the reason: {done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, "a message, not a traceback"
