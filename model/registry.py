"""Model directories and the model registry: save, verify, load, publish, roll back.

A model directory holds `model.skops` (the fitted pipeline, saved with skops, never pickle),
`metadata.json` (version, data hashes, labels, thresholds, metrics, library versions and the
sha256 of every other file) and `README.md` (the model card). A registry is a folder of model
directories named by version, with a `CURRENT` file naming the one in service.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline
from skops.io.exceptions import UntrustedTypesFoundException

from model.card import model_card
from model.oof import OOF_FILE, write_oof
from model.train import TrainResult

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
CURRENT_FILE = "CURRENT"
FORMAT_VERSION = 1
# Types skops may rebuild beyond its own defaults; anything else in a file is refused.
TRUSTED_TYPES = [
    "model.text.TextCleaner",
    "model.pipeline.TfidfFeatures",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.model_selection._split.StratifiedKFold",
]
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "skops", "pandas")


class ModelError(RuntimeError):
    """A model directory that is missing, incomplete, tampered with or incompatible."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {name: importlib_metadata.version(name) for name in _LIBRARIES}
    versions["python"] = platform.python_version()
    return versions


def save_model(result: TrainResult, out_dir: str | Path, data_files: Sequence[str | Path]) -> dict[str, Any]:
    """Write a trained model as a new versioned directory; refuses to overwrite a model."""
    out = Path(out_dir)
    if (out / METADATA_FILE).exists() or (out / MODEL_FILE).exists():
        raise ModelError(f"{out} already holds a model; choose a new folder (model directories are never overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out.parent))
    try:
        sio.dump(result.pipeline, staging / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
        rows = result.tickets
        write_oof(staging, rows["id"].tolist(), rows["label"].to_numpy(), rows["language"].tolist(), result.labels, result.oof_proba)
        created = dt.datetime.now(dt.UTC).replace(microsecond=0)
        model_hash = file_sha256(staging / MODEL_FILE)
        meta = _metadata(result, created, model_hash, data_files)
        (staging / CARD_FILE).write_text(model_card(meta), encoding="utf-8")
        meta["artifacts"] = {name: file_sha256(staging / name) for name in (MODEL_FILE, CARD_FILE, OOF_FILE)}
        (staging / METADATA_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        if out.exists():
            for item in staging.iterdir():
                item.rename(out / item.name)
            staging.rmdir()
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return meta


def _metrics_source(result: TrainResult) -> str:
    source = "out-of-fold cross-validation on the training data, whole situations held out of each fold"
    if len(result.tickets) < len(result.fitted_tickets):
        source += f" (a stratified sample of {len(result.tickets)} of its {len(result.fitted_tickets)} tickets)"
    return source


def _metadata(result: TrainResult, created: dt.datetime, model_hash: str, data_files: Sequence[str | Path]) -> dict[str, Any]:
    rows = result.fitted_tickets
    return {
        "format_version": FORMAT_VERSION,
        "version": f"{created:%Y%m%d-%H%M%S}-{model_hash[:8]}",
        "created": created.isoformat(),
        "labels": result.labels,
        "thresholds": result.thresholds,
        "target_precision": result.target_precision,
        "params": result.params,
        "metrics": {"source": _metrics_source(result), **result.report},
        "familiar_metrics": result.familiar_report,
        "routing_by_target": result.routing,
        "advice": result.advice,
        "data": {
            "files": [{"path": str(p), "sha256": file_sha256(Path(p))} for p in data_files],
            "tickets": int(len(rows)),
            "skipped_rows": len(result.warnings),
            "per_label": {k: int(v) for k, v in rows["label"].value_counts().sort_index().items()},
            "per_language": {k: int(v) for k, v in rows["language"].value_counts().sort_index().items()},
        },
        "libraries": library_versions(),
        "training_seconds": round(result.seconds, 2),
    }


def read_metadata(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / METADATA_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir}: no {METADATA_FILE}; not a model directory")
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: unreadable ({e})") from None
    problem = _metadata_problem(meta)
    if problem:
        raise ModelError(f"{path}: {problem} (changed or damaged); retrain or restore the model")
    return meta


def _metadata_problem(meta: object) -> str | None:
    """What is wrong with the shape of metadata.json, or None. Its own integrity has no hash (it holds
    the hashes), so a damaged file must fail here with a reason, not later with a KeyError mid-request."""
    if not isinstance(meta, dict):
        return "not a JSON object"
    if not isinstance(meta.get("version"), str) or not meta["version"].strip():
        return "'version' is not a non-empty text"
    labels = meta.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
        return "'labels' is not a list of two or more distinct label names"
    thresholds = meta.get("thresholds")
    if not isinstance(thresholds, dict) or set(thresholds) != set(labels):
        return "'thresholds' does not give one threshold per label"
    if not all(isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) for t in thresholds.values()):
        return "'thresholds' holds a value that is not a number"
    artifacts = meta.get("artifacts")
    if not isinstance(artifacts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in artifacts.items()):
        return "'artifacts' is not a mapping of file name to sha256"
    if not isinstance(meta.get("libraries", {}), dict):
        return "'libraries' is not a mapping of library to version"
    return None


def verify_model(model_dir: str | Path) -> dict[str, Any]:
    """Check a model directory's files against its metadata; return the metadata."""
    directory = Path(model_dir)
    if not directory.is_dir():
        raise ModelError(f"{directory}: model directory not found")
    meta = read_metadata(directory)
    for name, expected in meta.get("artifacts", {}).items():
        path = directory / name
        if not path.is_file():
            raise ModelError(f"{directory}: {name} is missing")
        if file_sha256(path) != expected:
            raise ModelError(f"{directory}: {name} does not match its sha256 in {METADATA_FILE} (changed or damaged); retrain or restore it")
    if MODEL_FILE not in meta.get("artifacts", {}):
        raise ModelError(f"{directory}: {METADATA_FILE} lists no {MODEL_FILE}")
    saved = meta.get("libraries", {}).get("scikit-learn", "?")
    installed = importlib_metadata.version("scikit-learn")
    if saved.split(".")[:2] != installed.split(".")[:2]:
        raise ModelError(
            f"{directory}: saved with scikit-learn {saved}, but {installed} is installed; "
            f"retrain the model with this version or install scikit-learn=={saved}"
        )
    return meta


def load_pipeline(model_dir: str | Path) -> tuple[Pipeline, dict[str, Any]]:
    """Verify and load a model directory's pipeline and metadata."""
    meta = verify_model(model_dir)
    data = (Path(model_dir) / MODEL_FILE).read_bytes()
    try:
        # skops refuses (UntrustedTypesFoundException) any type outside its defaults and this list.
        pipeline = sio.loads(data, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException as e:
        raise ModelError(f"{model_dir}: {MODEL_FILE} contains types that are not trusted: {e}") from None
    except Exception as e:  # skops raises many kinds on damaged files
        raise ModelError(f"{model_dir}: {MODEL_FILE} could not be loaded ({type(e).__name__}: {e})") from None
    if not isinstance(pipeline, Pipeline) or list(pipeline.classes_) != meta["labels"]:
        raise ModelError(f"{model_dir}: {MODEL_FILE} does not hold the pipeline its metadata describes")
    return pipeline, meta


# --- the registry -------------------------------------------------------------------------


def list_versions(registry: str | Path) -> list[str]:
    """Versions in a registry, oldest first (version names sort by creation time)."""
    root = Path(registry)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / METADATA_FILE).is_file())


def current_version(registry: str | Path) -> str | None:
    """The version named in CURRENT, else the newest version, else None."""
    root = Path(registry)
    pointer = root / CURRENT_FILE
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        if name and (root / name / METADATA_FILE).is_file():
            return name
    versions = list_versions(root)
    return versions[-1] if versions else None


def set_current(registry: str | Path, version: str) -> None:
    """Point CURRENT at a version (atomically), after verifying that version."""
    root = Path(registry)
    if version not in list_versions(root):
        known = ", ".join(list_versions(root)) or "none"
        raise ModelError(f"{root}: no version '{version}' (versions: {known})")
    verify_model(root / version)
    tmp = root / f".{CURRENT_FILE}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, root / CURRENT_FILE)


def publish(model_dir: str | Path, registry: str | Path) -> str:
    """Copy a verified model directory into the registry and make it the current version."""
    meta = verify_model(model_dir)
    root = Path(registry)
    root.mkdir(parents=True, exist_ok=True)
    target = root / meta["version"]
    if not target.exists():
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        staging.chmod(0o755)
        for name in (*meta["artifacts"], METADATA_FILE):
            shutil.copy2(Path(model_dir) / name, staging / name)
        staging.rename(target)
    set_current(root, meta["version"])
    return str(meta["version"])


def rollback(registry: str | Path, version: str | None = None) -> str:
    """Make an earlier version current: the given one, or the one before the current."""
    versions = list_versions(registry)
    if version is None:
        current = current_version(registry)
        earlier = versions[: versions.index(current)] if current in versions else []
        if not earlier:
            raise ModelError(f"{registry}: no version older than {current} to roll back to")
        version = earlier[-1]
    set_current(registry, version)
    return version


