"""Fixtures of the service tests: trained models (once per session), settings and in-process clients.

Model A is the root conftest's `small_model_dir`; model B, a second version for hot-swap tests,
is trained on other tickets so that its version differs.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from model.data import load_tickets
from model.registry import publish, save_model
from model.train import train
from service.app import create_app
from service.config import ENV_PREFIX, Settings, load_settings

with warnings.catch_warnings():
    # Starlette's TestClient warns that it will move to httpx2; the project still pins httpx.
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

PREDICT_KEY = "predict-key-0123456789abcdef"
REVIEW_KEY = "review-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
KEYS = f"{PREDICT_KEY}:predict;{REVIEW_KEY}:review,predict;{ADMIN_KEY}:admin"
# Settings that make every ticket auto-route (no review) or go to review, for deterministic routes.
ROUTE_ALL = {"thresholds": {"delivery": 0.5, "support": 0.5}}
REVIEW_ALL = {"thresholds": {"delivery": 1.0, "support": 1.0}}
DELIVERY_SV = {"id": "T-1", "subject": "Ny skola i synken", "body": "Hej! Kan ni lägga till en ny skola, Ekbackens skola, i synken till Google? Mvh Anna"}
DELIVERY_EN = {"id": "T-2", "subject": "New school unit", "body": "Hi, please add our new school unit Oakfield School to the sync to Google Workspace. Thanks"}
SUPPORT_SV = {"id": "T-3", "subject": "Inloggning funkar inte",
              "body": "Hej, eleverna kan inte logga in med SSO sedan i morse, de får ett felmeddelande. Mvh Per"}


@pytest.fixture(autouse=True)
def _no_triage_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's TRIAGE_* settings out of the tests."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX) and name[len(ENV_PREFIX):].lower() in Settings.model_fields:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def tiny_tickets_file(tmp_path_factory: pytest.TempPathFactory, tickets_frame: pd.DataFrame) -> Path:
    """60 shipped tickets (the last 30 of each label): a model on them trains in about a second."""
    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    tickets_frame.groupby("label").tail(30).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def model_a(small_model_dir: Path) -> Path:
    return small_model_dir


@pytest.fixture(scope="session")
def model_b(tmp_path_factory: pytest.TempPathFactory, tiny_tickets_file: Path) -> Path:
    out = tmp_path_factory.mktemp("models") / "b"
    save_model(train(load_tickets([tiny_tickets_file]), c_grid=(10.0,)), out, [tiny_tickets_file])
    return out


@pytest.fixture
def registry(tmp_path: Path, model_a: Path) -> Path:
    """A registry whose current version is model A."""
    root = tmp_path / "registry"
    publish(model_a, root)
    return root


SettingsFactory = Callable[..., Settings]
ClientFactory = Callable[..., TestClient]


def _settings(folder: Path, model_dir: Path, overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {"model": model_dir, "database_url": f"sqlite:///{folder / 'var' / 'reviews.db'}", "watch_interval": 0,
                              "review_buffer_file": folder / "var" / "review-buffer.db"}
    return load_settings({**values, **overrides})


@pytest.fixture
def make_settings(tmp_path: Path, model_a: Path) -> SettingsFactory:
    """Settings serving model A with a SQLite review queue under tmp_path; keyword arguments override."""
    return lambda **overrides: _settings(tmp_path, model_a, overrides)


# Without API keys the app answers only requests addressed to a loopback name (DNS rebinding);
# the test client's default name, testserver, is not one.
LOCAL_URL = "http://localhost"


def _start(settings: Settings) -> TestClient:
    client = TestClient(create_app(settings), base_url=LOCAL_URL)
    client.__enter__()  # runs the lifespan: loads the model, opens the review store
    return client


@pytest.fixture
def make_client(make_settings: SettingsFactory) -> Iterator[ClientFactory]:
    """Start a fresh app (for tests that change it or count on its state); shut down after the test."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        clients.append(_start(make_settings(**overrides)))
        return clients[-1]

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def shared_client(tmp_path_factory: pytest.TempPathFactory, model_a: Path) -> Iterator[ClientFactory]:
    """Apps shared by tests that change nothing in them: one per distinct set of settings, started once."""
    clients: dict[str, TestClient] = {}

    def get(**overrides: Any) -> TestClient:
        key = json.dumps(overrides, sort_keys=True, default=str)
        if key not in clients:
            clients[key] = _start(_settings(tmp_path_factory.mktemp("app"), model_a, overrides))
        return clients[key]

    yield get
    for client in clients.values():
        client.__exit__(None, None, None)


@pytest.fixture
def client(shared_client: ClientFactory) -> TestClient:
    """A shared app serving model A with no API keys (open loopback mode)."""
    return shared_client()
