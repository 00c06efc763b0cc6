"""Before the server starts: find (or train) the model to serve and check everything the settings
point at, so that a wrong setting stops `triage serve` with a message instead of a traceback.
"""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
import tempfile
from pathlib import Path

from model.data import load_tickets
from model.predictor import TriageModel
from model.registry import current_version, publish, save_model, verify_model
from model.train import train
from service.config import ConfigError, Settings
from service.db.engine import make_engine
from service.next_steps import load_next_steps
from service.review.buffer import RetryBuffer, default_buffer_file

log = logging.getLogger("triage.service")


def model_to_serve(settings: Settings, train_if_missing: bool) -> Path:
    """The pinned model directory, else the registry's current version (trained first if asked and missing)."""
    if settings.model is not None:
        return settings.model
    version = current_version(settings.registry)
    if version is not None:
        return settings.registry / version
    if not train_if_missing:
        raise ConfigError(
            f"the model registry {settings.registry} holds no model: publish one (triage train --data FILE --out DIR, then "
            f"triage publish --model DIR --registry {settings.registry}), serve a model directory with --model DIR, "
            "or start with --train-if-missing")
    return train_into_registry(settings.training_data, settings.registry)


def train_into_registry(data: Path, registry: Path) -> Path:
    """Train a model on a ticket file, publish it to the registry and return its directory there."""
    if not data.is_file():
        raise ConfigError(f"--train-if-missing: the training data {data} does not exist; point TRIAGE_TRAINING_DATA at a labelled ticket file")
    log.info("the registry is empty; training a model", extra={"fields": {"data": str(data), "registry": str(registry)}})
    result = train(load_tickets([data]))
    with tempfile.TemporaryDirectory() as tmp:
        save_model(result, Path(tmp) / "model", [data])
        version = publish(Path(tmp) / "model", registry)
    log.info("model trained and published", extra={"fields": {"version": version}})
    return registry / version


def preflight(settings: Settings, model_dir: Path) -> None:
    """Check the model, the thresholds, the next steps, the database URL and the port; ConfigError if wrong."""
    meta = verify_model(model_dir)
    labels = [str(label) for label in meta["labels"]]
    unknown = sorted(set(settings.thresholds) - set(labels))
    if unknown:
        raise ConfigError(f"--threshold / TRIAGE_THRESHOLDS: unknown label(s) {', '.join(unknown)}; the model's labels are {', '.join(labels)}")
    load_next_steps(settings.next_steps_file).check_covers(labels)
    # Verifying hashes is not loading: a file damaged along with its recorded hash is refused
    # here, with its reason, instead of failing the server's start-up with a traceback.
    TriageModel.load(model_dir, target_precision=settings.target_precision, thresholds=settings.thresholds or None)
    make_engine(settings.database_url).dispose()  # checks the URL further and creates a SQLite folder
    _check_buffer_file(settings.review_buffer_file or default_buffer_file(settings.database_url), settings.review_buffer_bytes)
    _check_port_free(settings.host, settings.port)


def _check_buffer_file(path: Path, capacity_bytes: int) -> None:
    try:
        RetryBuffer(path, capacity_bytes).close()
    except (OSError, sqlite3.Error) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise ConfigError(f"the review retry buffer {path} cannot be opened ({reason}); give a writable file with TRIAGE_REVIEW_BUFFER_FILE") from None


def _check_port_free(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"--host / TRIAGE_HOST: cannot resolve {host} ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds, so TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as e:
            hint = "choose another with --port / TRIAGE_PORT" if e.errno == errno.EADDRINUSE else "check --host / TRIAGE_HOST"
            raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}); {hint}") from None
