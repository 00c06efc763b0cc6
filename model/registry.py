"""Model directories and the model registry: save, verify, load, publish, roll back.

A model directory holds `model.skops` (the fitted pipeline, saved with skops, never pickle),
`metadata.json` (version, data hashes, labels, thresholds, metrics, library versions and the
sha256 of every other file), `metadata.sig` (the metadata's signature under the registry key,
`model.signature`) and `README.md` (the model card). A registry is a folder of model
directories named by version, with a `CURRENT` file naming the one in service.

Every file is read once: the bytes that are hashed (or whose signature is checked) are the bytes
that are used, so a file swapped between the check and the load cannot slip in. Names taken
from files (versions, artifact names, CURRENT) are plain names checked before any path is made
of them, so nothing outside the registry is ever read or written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import os
import platform
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline
from skops.io.exceptions import UntrustedTypesFoundException

from model.card import model_card
from model.oof import OOF_FILE, write_oof
from model.pipeline import fitted_shape_problem
from model.signature import KeyProblem, load_key, sign, signature_problem
from model.train import TrainResult

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
SIGNATURE_FILE = "metadata.sig"
CARD_FILE = "README.md"
CURRENT_FILE = "CURRENT"
ARTIFACT_FILES = (MODEL_FILE, CARD_FILE, OOF_FILE)  # the files metadata.json may list, and no others
FORMAT_VERSION = 1
# What loading a model may read and unpack. The shipped data's model is 1.3 MB (4 MB unpacked); a
# file beyond this is no model `triage train` makes, and unpacking it could exhaust the memory
# of the service that loads it.
MAX_MODEL_BYTES = 1 << 30
MAX_METADATA_BYTES = 16 << 20
# Versions and artifacts are plain names: no separators, no leading dot, so never '..'.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
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


def is_plain_name(name: object) -> bool:
    """Whether `name` can name a version or a file inside a folder without leaving it."""
    return isinstance(name, str) and _PLAIN_NAME.fullmatch(name) is not None


def _registry_key(create: bool = False) -> bytes:
    try:
        return load_key(create=create)
    except KeyProblem as e:
        raise ModelError(str(e)) from None


def check_new_model_dir(out_dir: str | Path) -> None:
    """Refuse a model directory that would replace anything: it must not exist, or be empty."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a model" if (out / METADATA_FILE).exists() else "files" if out.is_dir() else "a file"
        raise ModelError(f"{out} already holds {what}; choose a new folder (a model is written to a new or empty folder and never replaces files)")


def save_model(result: TrainResult, out_dir: str | Path, data_files: Sequence[str | Path]) -> dict[str, Any]:
    """Write a trained model as a new, signed model directory: `out_dir` must not exist or be empty."""
    out = Path(out_dir)
    check_new_model_dir(out)
    key = _registry_key(create=True)
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
        meta["artifacts"] = {name: file_sha256(staging / name) for name in ARTIFACT_FILES}
        metadata = (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        (staging / METADATA_FILE).write_bytes(metadata)
        (staging / SIGNATURE_FILE).write_bytes(sign(metadata, key))
        staging.chmod(0o755)
        try:
            staging.rename(out)  # replaces nothing: fails unless `out` is absent or an empty folder
        except OSError:
            check_new_model_dir(out)  # something appeared there meanwhile: say what
            raise
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


@dataclass(frozen=True)
class VerifiedFiles:
    """A model directory's files as read once and checked: the metadata (signature checked) and
    the bytes of every artifact it lists (sha256 checked)."""

    meta: dict[str, Any]
    metadata: bytes
    signature: bytes
    artifacts: dict[str, bytes]


def _read_bounded(path: Path, limit: int) -> bytes:
    """A file's bytes, refusing one larger than `limit` before reading it."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise ModelError(f"{path} is {size:,} bytes, more than the {limit:,} a model file may have")
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise ModelError(f"{path} is more than the {limit:,} bytes a model file may have")
    return data


def _read_signed_metadata(directory: Path) -> tuple[dict[str, Any], bytes, bytes]:
    """metadata.json (signature checked before it is parsed), its bytes and its signature's."""
    path, signature_path = directory / METADATA_FILE, directory / SIGNATURE_FILE
    if not path.is_file():
        raise ModelError(f"{directory}: no {METADATA_FILE}; not a model directory")
    if not signature_path.is_file():
        raise ModelError(f"{directory}: {METADATA_FILE} is not signed (no {SIGNATURE_FILE}); retrain the model, or, for a model "
                         f"you trust that was made before models were signed, sign it: triage sign --model {directory}")
    data = _read_bounded(path, MAX_METADATA_BYTES)
    signature = _read_bounded(signature_path, MAX_METADATA_BYTES)
    problem = signature_problem(data, signature, _registry_key())
    if problem:
        raise ModelError(f"{path}: {problem}; retrain or restore the model")
    return _parse_metadata(path, data), data, signature


def _parse_metadata(path: Path, data: bytes) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelError(f"{path}: unreadable ({type(e).__name__})") from None
    problem = _metadata_problem(meta)
    if problem:
        raise ModelError(f"{path}: {problem} (changed or damaged); retrain or restore the model")
    return meta


def read_metadata(model_dir: str | Path) -> dict[str, Any]:
    """A model directory's metadata, its signature checked (its artifacts are not: `verify_model`)."""
    return _read_signed_metadata(Path(model_dir))[0]


def _metadata_problem(meta: object) -> str | None:
    """What is wrong with the shape of metadata.json, or None: a damaged file must fail here with
    a reason, not later with a KeyError mid-request, and no name in it may lead out of a folder."""
    if not isinstance(meta, dict):
        return "not a JSON object"
    if not is_plain_name(meta.get("version")):
        return "'version' is not a plain version name (letters, digits, '.', '_' and '-', at most 100, not starting with '.')"
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
    unknown = sorted(set(artifacts) - set(ARTIFACT_FILES))
    if unknown:
        return f"'artifacts' lists files a model directory does not hold: {', '.join(map(repr, unknown))[:200]} (only {', '.join(ARTIFACT_FILES)})"
    if MODEL_FILE not in artifacts:
        return f"'artifacts' lists no {MODEL_FILE}"
    if not isinstance(meta.get("libraries", {}), dict):
        return "'libraries' is not a mapping of library to version"
    return None


def _read_artifacts(directory: Path, meta: dict[str, Any]) -> dict[str, bytes]:
    """The bytes of every artifact the metadata lists, each checked against its sha256."""
    artifacts = {}
    for name, expected in meta["artifacts"].items():
        path = directory / name
        if not path.is_file():
            raise ModelError(f"{directory}: {name} is missing")
        data = _read_bounded(path, MAX_MODEL_BYTES)
        if hashlib.sha256(data).hexdigest() != expected:
            raise ModelError(f"{directory}: {name} does not match its sha256 in {METADATA_FILE} (changed or damaged); retrain or restore it")
        artifacts[name] = data
    return artifacts


def _verified_files(model_dir: str | Path) -> VerifiedFiles:
    directory = Path(model_dir)
    if not directory.is_dir():
        raise ModelError(f"{directory}: model directory not found")
    meta, metadata, signature = _read_signed_metadata(directory)
    artifacts = _read_artifacts(directory, meta)
    saved = str(meta.get("libraries", {}).get("scikit-learn", "?"))
    installed = importlib_metadata.version("scikit-learn")
    if saved.split(".")[:2] != installed.split(".")[:2]:
        raise ModelError(
            f"{directory}: saved with scikit-learn {saved[:40]}, but {installed} is installed; "
            f"retrain the model with this version or install scikit-learn=={saved[:40]}"
        )
    return VerifiedFiles(meta, metadata, signature, artifacts)


def verify_model(model_dir: str | Path) -> dict[str, Any]:
    """Check a model directory's signature and files against its metadata; return the metadata."""
    return _verified_files(model_dir).meta


def _unpacked_size_problem(data: bytes) -> str | None:
    """Why a skops file may not be unpacked: not a zip, or more than MAX_MODEL_BYTES once unpacked."""
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        return f"not a skops file ({e})"
    # zipfile stops at each entry's recorded size, so these sizes bound what unpacking allocates.
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_MODEL_BYTES:
        return f"it unpacks to {unpacked:,} bytes, more than the {MAX_MODEL_BYTES:,} a model may have"
    return None


def load_pipeline(model_dir: str | Path) -> tuple[Pipeline, dict[str, Any]]:
    """Verify and load a model directory's pipeline and metadata."""
    return load_verified(model_dir)[:2]  # type: ignore[return-value]


def load_verified(model_dir: str | Path) -> tuple[Pipeline, dict[str, Any], dict[str, bytes]]:
    """Verify and load a model directory: its pipeline, metadata and the verified bytes of its
    artifacts (for whatever else is read from them, without reading the files again)."""
    files = _verified_files(model_dir)
    data = files.artifacts[MODEL_FILE]
    problem = _unpacked_size_problem(data)
    if problem:
        raise ModelError(f"{model_dir}: {MODEL_FILE} could not be loaded: {problem}")
    try:
        # skops refuses (UntrustedTypesFoundException) any type outside its defaults and this list.
        pipeline = sio.loads(data, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException as e:
        raise ModelError(f"{model_dir}: {MODEL_FILE} contains types that are not trusted: {e}") from None
    except Exception as e:  # skops raises many kinds on damaged files
        raise ModelError(f"{model_dir}: {MODEL_FILE} could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
    if not isinstance(pipeline, Pipeline) or list(getattr(pipeline, "classes_", [])) != files.meta["labels"]:
        raise ModelError(f"{model_dir}: {MODEL_FILE} does not hold the pipeline its metadata describes")
    problem = fitted_shape_problem(pipeline)
    if problem:
        raise ModelError(f"{model_dir}: {MODEL_FILE} holds a pipeline whose parts do not fit together: {problem}")
    return pipeline, files.meta, files.artifacts


# --- the registry -------------------------------------------------------------------------


def _version_dir(root: Path, version: str) -> Path:
    """`root/version`, for a plain version name whose folder is really inside `root` (not a link out)."""
    if not is_plain_name(version):
        raise ModelError(f"{root}: {version[:100]!r} is not a version name (letters, digits, '.', '_' and '-', not starting with '.')")
    directory = root / version
    if directory.resolve().parent != root.resolve():
        raise ModelError(f"{root}: version {version} is a link to a folder outside the registry; a registry holds its versions itself")
    return directory


def list_versions(registry: str | Path) -> list[str]:
    """Versions in a registry, oldest first (version names sort by creation time)."""
    root = Path(registry)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if is_plain_name(p.name) and p.is_dir() and (p / METADATA_FILE).is_file())


def current_version(registry: str | Path) -> str | None:
    """The version named in CURRENT; None for a registry with no version at all.

    A CURRENT that is missing, unreadable or names no version of the registry is a ModelError,
    never a reason to serve another version: after `triage rollback` the newest version may be
    the one that was rolled back.
    """
    root = Path(registry)
    versions = list_versions(root)
    pointer = root / CURRENT_FILE
    if not versions and not pointer.exists():
        return None
    hint = f"choose the version to serve with `triage rollback --registry {root} --to VERSION`"
    try:
        name = _read_bounded(pointer, 4096).decode("utf-8").strip()
    except FileNotFoundError:
        raise ModelError(f"{root}: {CURRENT_FILE} is missing, so no version is chosen for service; {hint}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{root}: {CURRENT_FILE} is unreadable ({type(e).__name__}); {hint}") from None
    if not is_plain_name(name):
        raise ModelError(f"{root}: {CURRENT_FILE} does not hold a version name; {hint}")
    if name not in versions:
        raise ModelError(f"{root}: {CURRENT_FILE} names version {name}, which the registry does not hold; {hint}")
    _version_dir(root, name)
    return name


def set_current(registry: str | Path, version: str) -> None:
    """Point CURRENT at a version (atomically), after verifying that version."""
    root = Path(registry)
    if not is_plain_name(version) or version not in list_versions(root):
        known = ", ".join(list_versions(root)) or "none"
        raise ModelError(f"{root}: no version {version[:100]!r} (versions: {known})")
    verify_model(_version_dir(root, version))
    tmp = root / f".{CURRENT_FILE}.tmp"
    try:
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, root / CURRENT_FILE)
    except OSError as e:
        raise ModelError(f"{root}: cannot write {CURRENT_FILE} ({e.strerror or type(e).__name__}); check the folder and its permissions") from None


def publish(model_dir: str | Path, registry: str | Path) -> str:
    """Copy a verified model directory into the registry and make it the current version.

    The files written are the bytes that were verified, and the version name is checked before
    any path is made of it, so a tampered directory can neither slip in nor write outside.
    """
    files = _verified_files(model_dir)
    version = str(files.meta["version"])
    root = Path(registry)
    try:
        root.mkdir(parents=True, exist_ok=True)
        target = root / version
        if target.exists():
            existing = _verified_files(_version_dir(root, version))
            if existing.metadata != files.metadata:
                raise ModelError(f"{root}: version {version} is already in the registry with other metadata; a version is published once")
        else:
            _write_version(root, target, files)
        set_current(root, version)
    except OSError as e:
        raise ModelError(f"{root}: cannot write to the registry ({e.strerror or type(e).__name__}); check the folder and its permissions") from None
    return version


def _write_version(root: Path, target: Path, files: VerifiedFiles) -> None:
    """Write the verified bytes as `target`, appearing whole (a staging folder renamed) or not at all."""
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        for name, data in (*files.artifacts.items(), (METADATA_FILE, files.metadata), (SIGNATURE_FILE, files.signature)):
            (staging / name).write_bytes(data)
        staging.chmod(0o755)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def sign_model(model_dir: str | Path) -> str:
    """Sign a model directory's metadata with this machine's registry key, once its files match
    the metadata: for a model you trust that was made before models were signed. Returns its version."""
    directory = Path(model_dir)
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ModelError(f"{directory}: no {METADATA_FILE}; not a model directory")
    data = _read_bounded(path, MAX_METADATA_BYTES)
    meta = _parse_metadata(path, data)
    _read_artifacts(directory, meta)
    tmp = directory / f".{SIGNATURE_FILE}.tmp"
    tmp.write_bytes(sign(data, _registry_key(create=True)))
    os.replace(tmp, directory / SIGNATURE_FILE)
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
