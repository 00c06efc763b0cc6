"""The helpdesk settings: one file with TRIAGE_HELPDESK_* overrides, secrets never in the file, and
settings that cannot work stopping `triage serve` and `triage helpdesk-worker` with exit 2 and the fix.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from model.signature import KEY_FILE_ENV
from service.app import run
from service.auth import parse_keys
from service.config import ConfigError
from service.helpdesk.jobs import JobStore
from service.helpdesk.runtime import check_helpdesk
from service.helpdesk.settings import load_helpdesk_settings, unknown_environment
from tests.server_process import TRIAGE, free_port
from tests.service.helpdesk.conftest import HELPDESK_KEYS, freshdesk_section, wait_for
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn
from tests.service.helpdesk.test_writeback import DELIVERY_SV

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "helpdesk.example.toml"


def write(folder: Path, text: str) -> Path:
    path = folder / "helpdesk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__API_KEY", "a-key")
    settings = load_helpdesk_settings(EXAMPLE)
    assert settings.mode == "suggest" and settings.freshdesk is not None, "docs/helpdesk.example.toml is a working settings file"
    assert settings.freshdesk.base_url == "https://acme.freshdesk.com", f"the domain makes the address: {settings.freshdesk.base_url}"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'mode = "off"\n[freshdesk]\ndomain = "acme"\nreview_group_id = 5\n[freshdesk.types]\nsupport = "Support"\n')
    monkeypatch.setenv("TRIAGE_HELPDESK_MODE", "suggest")
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__API_KEY", "k")
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__TYPES__DELIVERY", "Leveransuppgift")
    settings = load_helpdesk_settings(path)
    assert settings.mode == "suggest", "an environment variable wins over the file"
    assert settings.freshdesk is not None and settings.freshdesk.types.support == "Support" and settings.freshdesk.types.delivery == "Leveransuppgift", \
        "nested overrides merge with the file's section instead of replacing it"
    assert settings.freshdesk.review_group_id == 5, "the file's other values stay"


def test_api_key_from_a_file(tmp_path: Path) -> None:
    key = tmp_path / "freshdesk.key"
    key.write_text("secret-from-file\n")
    settings = load_helpdesk_settings(write(tmp_path, f'[freshdesk]\ndomain = "acme"\napi_key_file = "{key}"\n'))
    assert settings.freshdesk is not None and settings.freshdesk.api_key is not None
    assert settings.freshdesk.api_key.get_secret_value() == "secret-from-file", "the key file's content, stripped, is the key"
    assert "secret-from-file" not in repr(settings), "the key never shows in the settings' repr (logs)"


@pytest.mark.parametrize(("text", "expected"), [
    ('[freshdesk]\ndomain = "acme"\napi_key = "abc"\n', "TRIAGE_HELPDESK_FRESHDESK__API_KEY"),
    ('[freshdesk]\ndomain = "acme"\n', "API key is missing"),
    ('[freshdesk]\napi_key_file = "/nonexistent/key"\ndomain = "acme"\n', "cannot be read"),
    ('[freshdesk]\ndomain = "not a domain"\n', "write the Freshdesk domain"),
    ('[freshdesk]\nbase_url = "http://helpdesk.example.com"\n', "must use https"),
    ('mode = "act"\n[freshdesk]\ndomain = "acme"\napi_key_file = "KEY"\n', "freshdesk.types.support"),
    ('mode = "sometimes"\n', "mode"),
    ('[freshdesk\n', "not valid TOML"),
    ('[zendesk]\nsubdomain = "acme"\n', "signing_secret"),
    ('[messages.delivery_task_subject]\nsv = "{kund}"\nen = "x"\n', "only the placeholders"),
    ('[worker]\nmax_attempts = 0\n', "worker.max_attempts / TRIAGE_HELPDESK_WORKER__MAX_ATTEMPTS"),
    ('colour = "blue"\n', "colour"),
])
def test_settings_that_cannot_work_say_what_to_fix(tmp_path: Path, text: str, expected: str) -> None:
    key = tmp_path / "key"
    key.write_text("k")
    with pytest.raises(ConfigError) as raised:
        load_helpdesk_settings(write(tmp_path, text.replace('"KEY"', f'"{key}"')))
    assert expected in str(raised.value), f"the message should mention {expected!r}: {raised.value}"


def test_act_mode_names_every_missing_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_helpdesk_settings(None, mode="act", freshdesk={"domain": "acme", "api_key": "k", "types": {"support": "Support"}})
    message = str(raised.value)
    for name in ("freshdesk.types.delivery", "freshdesk.review_group_id", "freshdesk.delivery_group_id"):
        assert name in message, f"act mode's message names {name}: {message}"


def test_unknown_environment_names_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_HELPDESK_MODDE", "act")
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__TYPES__DELIVERY", "x")
    assert unknown_environment() == ["TRIAGE_HELPDESK_MODDE"], "a typo is reported, a real nested name is not"


def test_start_up_check_against_freshdesk(freshdesk: FreshdeskStandIn) -> None:
    keys = parse_keys(HELPDESK_KEYS, "test")
    good = load_helpdesk_settings(None, mode="act", freshdesk=freshdesk_section(freshdesk))
    check_helpdesk(good, keys)  # the stand-in has the types and the groups
    problems = {
        "types": (load_helpdesk_settings(None, mode="act", freshdesk=freshdesk_section(freshdesk, types={"support": "Support", "delivery": "Delivery"})),
                  keys, "'Delivery' is not a ticket type in Freshdesk"),
        "group": (load_helpdesk_settings(None, mode="act", freshdesk=freshdesk_section(freshdesk, delivery_group_id=99)), keys, "group 99 does not exist"),
        "key": (load_helpdesk_settings(None, freshdesk=freshdesk_section(freshdesk, api_key="wrong")), keys, "refused the API key"),
        "webhook role": (good, parse_keys("predict-key-0123456789abcdef:predict", "test"), "role 'webhook'"),
    }
    for name, (settings, ring, expected) in problems.items():
        with pytest.raises(ConfigError) as raised:
            check_helpdesk(settings, ring)
        assert expected in str(raised.value), f"{name}: the start-up check should say {expected!r}: {raised.value}"


def test_an_unreachable_helpdesk_only_warns_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_helpdesk_settings(None, freshdesk={"base_url": f"http://127.0.0.1:{free_port()}", "api_key": "k"},
                                      worker={"timeout_seconds": 2})
    check_helpdesk(settings, parse_keys(HELPDESK_KEYS, "test"))
    assert any("not reachable" in r.getMessage() for r in caplog.records), "the service starts and says the helpdesk is not reachable"


def test_serve_exits_2_for_settings_that_cannot_work(tmp_path: Path, model_a: Path, freshdesk: FreshdeskStandIn,
                                                     monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, f'mode = "act"\n[freshdesk]\nbase_url = "{freshdesk.base_url}"\nreview_group_id = 11\ndelivery_group_id = 22\n'
                           '[freshdesk.types]\nsupport = "Support"\ndelivery = "Leverans"\n')
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__API_KEY", freshdesk.api_key)
    code = run({"model": model_a, "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}", "helpdesk_file": path, "port": free_port(),
                "api_keys": HELPDESK_KEYS})
    err = capsys.readouterr().err
    assert code == 2 and "'Leverans' is not a ticket type in Freshdesk" in err and "Admin > Ticket fields" in err, \
        f"triage serve stops with exit 2 and the fix: {code} {err}"


def test_helpdesk_worker_runs_on_its_own(tmp_path: Path, model_a: Path, freshdesk: FreshdeskStandIn) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'triage.db'}"
    jobs = JobStore(url)
    jobs.migrate()
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    jobs.enqueue("freshdesk", "ticket", str(ticket))  # accepted earlier by a `triage serve` on the same database
    settings = write(tmp_path, f'[freshdesk]\nbase_url = "{freshdesk.base_url}"\n[worker]\npoll_seconds = 0.1\n')
    env = {"TRIAGE_HELPDESK_FRESHDESK__API_KEY": freshdesk.api_key, "TRIAGE_THRESHOLDS": '{"delivery": 0.5, "support": 0.5}', "PATH": "/usr/bin:/bin",
           KEY_FILE_ENV: os.environ[KEY_FILE_ENV]}  # the test run's registry key, which signed the model
    log, metrics_port = tmp_path / "worker.log", free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([str(TRIAGE), "helpdesk-worker", "--model", str(model_a), "--database", url, "--helpdesk-file", str(settings),
                                    "--metrics-port", str(metrics_port)], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (job := jobs.find("freshdesk", "ticket", str(ticket))) is not None and job.state == "done" or process.poll() is not None,
                 seconds=60, what="the worker to handle the job")
        assert process.poll() is None, f"the worker keeps running: {log.read_text()[-2000:]}"
        assert len(freshdesk.notes(ticket)) == 1, "the standalone worker wrote the note"
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert 'triage_helpdesk_jobs_total{helpdesk="freshdesk",outcome="done"} 1.0' in metrics, "--metrics-port serves the worker's metrics"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, f"SIGTERM stops it cleanly: {log.read_text()[-2000:]}"
    finally:
        if process.poll() is None:
            process.kill()
        jobs.close()
    assert "Ekbackens" not in log.read_text(), "the worker's log holds no ticket text"


def test_helpdesk_worker_without_a_helpdesk_exits_2(tmp_path: Path, model_a: Path) -> None:
    result = subprocess.run([str(TRIAGE), "helpdesk-worker", "--model", str(model_a), "--database", f"sqlite:///{tmp_path / 'db'}"],
                            cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 2 and "no helpdesk is configured" in result.stderr, f"exit 2 and the fix: {result.returncode} {result.stderr}"


def test_a_model_with_other_labels_cannot_drive_the_connectors(freshdesk: FreshdeskStandIn) -> None:
    settings = load_helpdesk_settings(None, freshdesk=freshdesk_section(freshdesk))
    with pytest.raises(ConfigError, match="the model also has billing"):
        check_helpdesk(settings, parse_keys(HELPDESK_KEYS, "test"), ["billing", "delivery", "support"])
