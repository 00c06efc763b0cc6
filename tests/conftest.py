"""Shared fixtures: the shipped data and models trained on it once per test session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from model.data import load_tickets
from model.registry import METADATA_FILE, SIGNATURE_FILE, save_model
from model.signature import KEY_FILE_ENV, load_key, sign
from model.train import train

ROOT = Path(__file__).resolve().parent.parent
TICKETS = ROOT / "data" / "tickets.csv"
INDEPENDENT = ROOT / "data" / "eval" / "independent.csv"
EDGE_CASES = ROOT / "data" / "eval" / "edge-cases.csv"


def pytest_configure(config: pytest.Config) -> None:
    """Models made by the tests are signed with a key of this test run (made on first use), never
    with the developer's own registry key; subprocesses inherit it through the environment."""
    folder = Path(tempfile.mkdtemp(prefix="triage-test-key-"))
    os.environ[KEY_FILE_ENV] = str(folder / "registry.key")


def sign_metadata(model_dir: Path) -> None:
    """Sign a model directory's metadata as it now is with the test run's registry key: what a key
    holder's own edit (or faulty tool) leaves, so that the checks behind the signature are reached."""
    (model_dir / SIGNATURE_FILE).write_bytes(sign((model_dir / METADATA_FILE).read_bytes(), load_key()))


def shipped_texts() -> list[str]:
    """Every shipped ticket's raw text (subject and body), training and evaluation sets."""
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in (TICKETS, INDEPENDENT, EDGE_CASES)]
    return [f"{s}\n{b}" for frame in frames for s, b in zip(frame["subject"], frame["body"])]


@pytest.fixture(scope="session")
def tickets_frame() -> pd.DataFrame:
    return pd.read_csv(TICKETS, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def small_tickets_file(tmp_path_factory: pytest.TempPathFactory, tickets_frame: pd.DataFrame) -> Path:
    """240 shipped tickets, both labels: enough for a quick model in code tests."""
    path = tmp_path_factory.mktemp("data") / "small.csv"
    tickets_frame.groupby("label").head(120).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory: pytest.TempPathFactory, small_tickets_file: Path) -> Path:
    out = tmp_path_factory.mktemp("models") / "small"
    save_model(train(load_tickets([small_tickets_file]), c_grid=(10.0,)), out, [small_tickets_file])
    return out


@pytest.fixture(scope="session")
def full_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model `triage train --data data/tickets.csv` makes, with its default settings."""
    out = tmp_path_factory.mktemp("models") / "full"
    save_model(train(load_tickets([TICKETS])), out, [TICKETS])
    return out
