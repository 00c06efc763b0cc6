"""Every row of the "Where the commands write" table in docs/BAD_INPUT.md, run through `triage`
in-process: nothing is replaced that the command was not asked to write, and a place that cannot
be written gives exit status 2 and a message, never a traceback.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cli.main import main
from tests.bad_input_table import table_rows

ROWS = table_rows("Where the commands write (`triage train --out`, `predict --output`, `export-reviews --out`, `publish --registry`)")
TICKETS = "subject,body\nSynken,Hej! Synken till Google har stannat sedan i natt.\n"


def _folder_with_readme(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "README.md").write_text("# the project's own README\n")
    return folder


# case -> the command's arguments, given the test's folder, the small model and its training file
Case = Callable[[Path, Path, Path], list[str]]
CASES: dict[str, Case] = {
    "train-out-holds-files": lambda f, model, data: ["train", "--data", str(data), "--out", str(f / "out")],
    "train-out-is-the-project": lambda f, model, data: ["train", "--data", str(data), "--out", "."],
    "train-out-is-a-model": lambda f, model, data: ["train", "--data", str(data), "--out", str(f / "model")],
    "train-out-read-only": lambda f, model, data: ["train", "--data", str(data), "--out", "/sys/triage-model"],
    "predict-output-is-the-input": lambda f, model, data: ["predict", "--model", str(model), "--input", "t.csv", "--output", "t.csv"],
    "predict-output-is-a-folder": lambda f, model, data: ["predict", "--model", str(model), "--input", "t.csv", "--output", str(f / "out")],
    "predict-output-device-full": lambda f, model, data: ["predict", "--model", str(model), "--input", "t.csv", "--output", "/dev/full"],
    "export-out-is-a-folder": lambda f, model, data: ["export-reviews", "--database", f"sqlite:///{f / 'r.db'}", "--out", str(f / "out")],
    "export-out-is-a-device": lambda f, model, data: ["export-reviews", "--database", f"sqlite:///{f / 'r.db'}", "--out", "/dev/full"],
    "publish-registry-read-only": lambda f, model, data: ["publish", "--model", str(model), "--registry", "/sys/triage-registry"],
}


def test_every_documented_case_has_a_command_and_every_command_a_row() -> None:
    assert sorted(CASES) == sorted(ROWS), "docs/BAD_INPUT.md's table of written places and this test list the same cases"


@pytest.mark.parametrize("case", sorted(ROWS))
def test_triage_answers_as_documented(case: str, small_model_dir: Path, small_tickets_file: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _, exit_status, message = ROWS[case]
    monkeypatch.chdir(_folder_with_readme(tmp_path))
    (tmp_path / "t.csv").write_text(TICKETS)
    _folder_with_readme(tmp_path / "out")  # a folder holding a file
    shutil.copytree(small_model_dir, tmp_path / "model")
    if case.startswith("export"):
        from service.review.store import ReviewStore

        with ReviewStore(f"sqlite:///{tmp_path / 'r.db'}") as store:
            store.migrate()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    argv = CASES[case](tmp_path, small_model_dir, small_tickets_file)
    status = main(argv)
    printed = capsys.readouterr()
    said = printed.out + printed.err
    assert status == int(exit_status), f"{case}: docs/BAD_INPUT.md says exit {exit_status}, triage gave {status}: {said[-500:]}"
    assert message in said and said.startswith(f"triage {argv[0]}: error: "), f"{case}: one message saying '{message}': {said[-500:]}"
    assert "Traceback" not in said
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, f"{case}: no file was written, changed or removed: {sorted(set(after) ^ set(before))}"
