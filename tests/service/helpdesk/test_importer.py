"""`triage import-freshdesk` / `triage import-zendesk`: every ticket updated since a date, across
Freshdesk's page limit (date windows), labelled by type, redacted, readable by `triage train`.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from model.data import load_tickets
from service.helpdesk import freshdesk as freshdesk_module
from service.helpdesk.freshdesk import FreshdeskConnector
from service.helpdesk.importer import import_tickets, parse_label_map
from service.helpdesk.settings import load_helpdesk_settings
from tests.service.helpdesk import freshdesk_standin
from tests.service.helpdesk.conftest import freshdesk_section, zendesk_section
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn
from tests.service.helpdesk.zendesk_standin import ZendeskStandIn

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = ["Support", "Leveransuppgift", "Question", None]


def _fill(standin: FreshdeskStandIn, count: int) -> None:
    for n in range(count):
        standin.add_ticket(f"Ärende {n}", f"Text {n}, svara till anna.andersson@example.se", type=KINDS[n % 4],
                           updated_at=SINCE + timedelta(minutes=n))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_freshdesk_import_walks_date_windows_past_the_page_limit(freshdesk: FreshdeskStandIn, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(freshdesk_module, "MAX_PAGES", 2)  # both sides: one query stops after 2 pages of 100
    monkeypatch.setattr(freshdesk_standin, "MAX_PAGE", 2)
    _fill(freshdesk, 450)
    connector = FreshdeskConnector(load_helpdesk_settings(None, freshdesk=freshdesk_section(freshdesk)).freshdesk, 10)  # type: ignore[arg-type]
    summary = import_tickets(connector, SINCE, tmp_path / "fd.csv", {"Support": "support", "Leveransuppgift": "delivery"}, progress=False)
    rows = _rows(tmp_path / "fd.csv")
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 226, f"every Support and Leveransuppgift ticket once (226 of 450), got {len(ids)} rows, {len(set(ids))} distinct"
    assert summary.per_label == {"support": 113, "delivery": 113} and summary.skipped == {"Question": 112, "(no type)": 112}, \
        f"the rest is counted by type: {summary.describe()}"
    lists = [c for c in freshdesk.calls if c.path == "/api/v2/tickets" and "updated_since" in c.query]
    assert len(lists) >= 3, f"the import started new windows after the page limit: {len(lists)} window queries"
    assert all("anna.andersson" not in r["body"] and "example.se" not in r["body"] for r in rows), "e-mail addresses are redacted"
    assert "include=description" in lists[0].query, "the list asks for the description"


def test_import_cli_writes_a_training_file(freshdesk: FreshdeskStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _fill(freshdesk, 12)
    settings = tmp_path / "helpdesk.toml"
    settings.write_text(f'[freshdesk]\nbase_url = "{freshdesk.base_url}"\n')
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__API_KEY", freshdesk.api_key)
    out = tmp_path / "train" / "freshdesk.csv"
    code = main(["import-freshdesk", "--since", "2026-01-01", "--out", str(out), "--helpdesk-file", str(settings),
                 "--label-map", "Support=support, Leveransuppgift=delivery"])
    report = capsys.readouterr()
    assert code == 0, f"the import succeeds: {report.err}"
    assert "wrote 6 tickets" in report.out and "Question 3" in report.out and "(no type) 3" in report.out, f"the report counts both: {report.out}"
    tickets = load_tickets([out], require_label=True)
    assert sorted(tickets["label"]) == ["delivery"] * 3 + ["support"] * 3, "triage train reads the file with its labels"
    assert "\r" not in report.err, "no progress bar when stderr is not a terminal"


def test_progress_bar_on_a_terminal(freshdesk: FreshdeskStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(freshdesk, 4)
    connector = FreshdeskConnector(load_helpdesk_settings(None, freshdesk=freshdesk_section(freshdesk)).freshdesk, 10)  # type: ignore[arg-type]
    import_tickets(connector, SINCE, tmp_path / "fd.csv", {"Support": "support"}, progress=True)
    assert "freshdesk tickets" in capsys.readouterr().err, "the progress bar names what it counts"


@pytest.mark.parametrize(("argv", "message"), [
    (["--label-map", "Support"], "TYPE=LABEL"),
    (["--label-map", "A=x,A=y"], "mapped twice"),
    ([], "no type maps to a label"),
])
def test_import_cli_bad_input_exits_2(freshdesk: FreshdeskStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                      argv: list[str], message: str) -> None:
    settings = tmp_path / "helpdesk.toml"
    settings.write_text(f'[freshdesk]\nbase_url = "{freshdesk.base_url}"\n')
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__API_KEY", freshdesk.api_key)
    code = main(["import-freshdesk", "--since", "2026-01-01", "--out", str(tmp_path / "x.csv"), "--helpdesk-file", str(settings), *argv])
    assert code == 2 and message in capsys.readouterr().err, f"bad input exits 2 saying {message!r}"
    assert not (tmp_path / "x.csv").exists(), "nothing is written"


def test_import_cli_without_settings_or_with_a_bad_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-zendesk", "--since", "2026-01-01", "--out", str(tmp_path / "x.csv")]) == 2, "no settings: exit 2"
    assert "zendesk is not configured" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["import-freshdesk", "--since", "yesterday", "--out", str(tmp_path / "x.csv")])
    assert exited.value.code == 2 and "2026-01-31" in capsys.readouterr().err, "a date that is not a date says how to write one"


def test_a_refused_key_writes_nothing(freshdesk: FreshdeskStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "helpdesk.toml"
    settings.write_text(f'[freshdesk]\nbase_url = "{freshdesk.base_url}"\n[freshdesk.types]\nsupport = "Support"\n')
    monkeypatch.setenv("TRIAGE_HELPDESK_FRESHDESK__API_KEY", "wrong-key")
    code = main(["import-freshdesk", "--since", "2026-01-01", "--out", str(tmp_path / "x.csv"), "--helpdesk-file", str(settings)])
    assert code == 1 and "invalid_credentials" in capsys.readouterr().err, "a refused key fails with Freshdesk's code"
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob(".x.csv*")), "and leaves no file behind"


def test_zendesk_incremental_import(zendesk: ZendeskStandIn, tmp_path: Path) -> None:
    for n, kind in enumerate(["support", "leveransuppgift", None, "support", "leveransuppgift"]):
        zendesk.add_ticket(f"Ticket {n}", f"Text {n}, ring 070-123 45 67", type_value=kind)
    from service.helpdesk.zendesk import ZendeskConnector

    connector = ZendeskConnector(load_helpdesk_settings(None, zendesk=zendesk_section(zendesk)).zendesk, 10)  # type: ignore[arg-type]
    summary = import_tickets(connector, SINCE, tmp_path / "zd.csv", {"support": "support", "leveransuppgift": "delivery"}, progress=False)
    rows = _rows(tmp_path / "zd.csv")
    assert [r["label"] for r in rows] == ["support", "delivery", "support", "delivery"], f"the cursor export walks every page: {rows}"
    assert summary.skipped == {"(no type)": 1} and all("070-123" not in r["body"] for r in rows), "untyped counted, phone numbers redacted"


def test_label_map_parses() -> None:
    assert parse_label_map(" Support = support ,Leveransuppgift=delivery") == {"Support": "support", "Leveransuppgift": "delivery"}
