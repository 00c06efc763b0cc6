"""Settings are validated at start-up; a wrong one stops `triage serve` with status 2 and a message."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main as triage
from service.config import ConfigError, is_loopback, load_settings
from service.startup import model_to_serve, preflight
from tests.service.conftest import KEYS


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"port": 0}, "--port / TRIAGE_PORT"),
    ({"port": 70000}, "--port / TRIAGE_PORT"),
    ({"model": "/no/such/model"}, "model directory /no/such/model does not exist"),
    ({"host": "0.0.0.0"}, "only listens on loopback"),
    ({"thresholds": {"delivery": 0.0}}, "thresholds must be in (0, 1]"),
    ({"thresholds": {"delivery": 1.5}}, "thresholds must be in (0, 1]"),
    ({"target_precision": 1.2}, "--target-precision / TRIAGE_TARGET_PRECISION"),
    ({"database_url": "not a url"}, "not a database URL"),
    ({"database_url": "mysql://x@y/z"}, "unsupported database 'mysql'"),
    ({"api_keys_file": "/no/such/keys"}, "cannot be read"),
    ({"api_keys": "short:predict"}, "shorter than 16"),
    ({"log_level": "chatty"}, "TRIAGE_LOG_LEVEL"),
    ({"session_secret": "a" * 40}, "TRIAGE_SESSION_SECRET: is easy to guess"),
    ({"session_secret": "abcdefghijklmnopqrstuvwxyz0123456789"}, "TRIAGE_SESSION_SECRET: is easy to guess"),
    ({"max_connections": 2}, "TRIAGE_MAX_CONNECTIONS"),
])
def test_bad_settings_are_refused_with_what_to_fix(overrides: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides)
    assert fragment in str(caught.value), f"expected '{fragment}' in: {caught.value}"


def test_a_generated_session_secret_is_accepted() -> None:
    secret = secrets.token_urlsafe(32)
    assert load_settings({"session_secret": secret}).session_secret is not None, "what the docs say to run makes a good secret"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, model_a: Path) -> None:
    monkeypatch.setenv("TRIAGE_PORT", "8123")
    monkeypatch.setenv("TRIAGE_THRESHOLDS", '{"delivery": 0.8}')
    monkeypatch.setenv("TRIAGE_API_KEYS", KEYS)
    monkeypatch.setenv("TRIAGE_HOST", "0.0.0.0")
    settings = load_settings({"model": model_a})
    assert settings.port == 8123 and settings.thresholds == {"delivery": 0.8}, "TRIAGE_* variables should set the settings"
    assert not settings.key_ring.open, "keys from TRIAGE_API_KEYS allow a non-loopback host"
    assert load_settings({"port": 9000}).port == 9000, "a command-line option wins over the environment"


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.0.0.2")), "loopback addresses"
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org")), "anything else is not loopback"


def test_preflight_checks_threshold_labels_and_next_steps(tmp_path: Path, model_a: Path) -> None:
    settings = load_settings({"model": model_a, "thresholds": {"delivry": 0.8}, "port": _free_port()})
    with pytest.raises(ConfigError, match="unknown label.*delivry.*labels are delivery, support"):
        preflight(settings, model_a)
    steps = tmp_path / "steps.toml"
    steps.write_text('[support]\naction = "a"\nqueue = "q"\nsteps = ["s"]\n')
    settings = load_settings({"model": model_a, "next_steps_file": steps, "port": _free_port()})
    with pytest.raises(ValueError, match=r"no section for delivery, review"):
        preflight(settings, model_a)


def test_preflight_refuses_a_port_in_use(model_a: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = load_settings({"model": model_a, "port": taken.getsockname()[1], "database_url": f"sqlite:///{tmp_path / 'q.db'}"})
        with pytest.raises(ConfigError, match="choose another with --port"):
            preflight(settings, model_a)


def test_empty_registry_without_train_if_missing_says_how_to_get_a_model(tmp_path: Path) -> None:
    settings = load_settings({"registry": tmp_path / "empty"})
    with pytest.raises(ConfigError, match="holds no model.*--train-if-missing"):
        model_to_serve(settings, train_if_missing=False)
    settings = load_settings({"registry": tmp_path / "empty", "training_data": tmp_path / "missing.csv"})
    with pytest.raises(ConfigError, match="training data .* does not exist"):
        model_to_serve(settings, train_if_missing=True)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`triage serve` sets up JSON logging on the root logger; undo it after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("argv", [
    ["serve", "--port", "70000"],
    ["serve", "--host", "0.0.0.0"],
    ["serve", "--model", "/no/such/model"],
    ["serve", "--registry", "/no/such/registry"],
])
def test_triage_serve_exits_2_with_a_message_and_no_traceback(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert triage(argv) == 2, f"{argv} should exit with status 2"
    err = capsys.readouterr().err
    assert err.startswith("triage serve: error:"), f"the message should name the command: {err}"
    assert "Traceback" not in err, "a settings error prints no traceback"


@pytest.mark.usefixtures("restore_logging")
def test_threshold_option_is_parsed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        triage(["serve", "--threshold", "delivery"])
    assert caught.value.code == 2 and "LABEL=VALUE" in capsys.readouterr().err, "a malformed --threshold is a usage error"
    assert triage(["serve", "--threshold", "delivery=1.5", "--registry", "/nowhere"]) == 2, "an out-of-range threshold is refused"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
