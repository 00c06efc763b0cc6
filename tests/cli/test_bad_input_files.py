"""Every row of the ticket-file table in docs/BAD_INPUT.md, run through `triage` in-process: the
exit status and message the table documents are what the command gives (so the table cannot drift).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli.main import main
from tests.bad_input_table import table_rows

ROWS = table_rows("Ticket files (`triage predict`, `triage train`)")
GOOD = "subject,body\r\nSynken,Hej! Synken till Google har stannat sedan i natt.\r\nNy skola,Kan ni lägga till Ekbackens skola i synken?\r\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def _file(name: str, content: str | bytes, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path
    return write


# case -> (the file, the command's arguments after its input option, the command)
CASES: dict[str, tuple[Callable[[Path], Path], list[str], str]] = {
    "bom": (_file("t.csv", "\ufeff" + GOOD.replace("\r\n", "\n")), [], "predict"),
    "crlf": (_file("t.csv", 'subject,body\r\nSynken,"Hej!\r\nSynken har stannat."\r\nNy skola,Lägg till Ekbackens skola\r\n'), [], "predict"),
    "latin-1": (_file("t.csv", GOOD, "latin-1"), [], "predict"),
    "latin-1-declared": (_file("t.csv", GOOD, "latin-1"), ["--encoding", "latin-1"], "predict"),
    "unknown-encoding": (_file("t.csv", GOOD), ["--encoding", "klingon"], "predict"),
    "missing-text-columns": (_file("t.csv", "id,label\n1,support\n"), [], "predict"),
    "missing-label": (_file("t.csv", GOOD), [], "train"),
    "ragged-row": (_file("t.csv", "id,subject,body\n1,Synken,har stannat\n2,Ny skola, i synken,tack\n"), [], "predict"),
    "repeated-column": (_file("t.csv", "body,label,body\nhej,support,då\n"), [], "predict"),
    "empty-file": (_file("t.csv", " \n\n "), [], "predict"),
    "binary": (_file("tickets.csv", PNG), [], "predict"),
    "bad-json-line": (_file("t.jsonl", '{"body": "Synken har stannat"}\n{"body": "Ny skola\n'), [], "predict"),
    "json-line-not-object": (_file("t.jsonl", '["Synken har stannat"]\n'), [], "predict"),
    "no-usable-text": (_file("t.csv", "subject,body\nSynken,har stannat sedan i natt\n,<p>&nbsp;</p>\n"), [], "predict"),
    "missing-file": (lambda folder: folder / "no-such-file.csv", [], "predict"),
    "header-only": (_file("t.csv", "subject,body,label\n"), [], "train"),
    "deeply-nested-json-line": (_file("t.jsonl", '{"body": ' + "[" * 100_000 + "]" * 100_000 + "}\n"), [], "predict"),
    "nested-json-field": (_file("t.jsonl", '{"subject": "Synken", "body": ' + "[" * 900 + "]" * 900 + "}\n"), [], "predict"),
    "huge-integer": (_file("t.jsonl", '{"id": ' + "7" * 5000 + ', "body": "Hej! Synken till Google har stannat sedan i natt."}\n'), [], "predict"),
    "many-columns": (_file("t.csv", ",".join(f"c{i}" for i in range(200_000)) + ",body\n" + "," * 200_000 + "Synken har stannat\n"), [], "predict"),
    "many-repeated-columns": (_file("t.csv", "body," * 100_000 + "label\nhej," * 1 + "," * 99_999 + "support\n"), [], "predict"),
    "label-column-is-the-body": (_file("t.csv", GOOD), ["--columns", "label=body"], "train"),
}
# Ticket text of the files above: no message may quote it, whatever the case.
TICKET_TEXT = ("Synken till Google har stannat", "Lägg till Ekbackens skola", "lägga till Ekbackens skola")


def test_every_documented_case_has_a_file_and_every_file_a_row() -> None:
    assert sorted(CASES) == sorted(ROWS), "docs/BAD_INPUT.md's ticket-file table and this test list the same cases"


@pytest.mark.parametrize("case", sorted(ROWS))
def test_triage_answers_as_documented(case: str, small_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, exit_status, message = ROWS[case]
    make_file, extra, command = CASES[case]
    path, out = make_file(tmp_path), tmp_path / "out.csv"
    if command == "predict":
        argv = ["predict", "--model", str(small_model_dir), "--input", str(path), "--output", str(out), *extra]
    else:
        argv = ["train", "--data", str(path), "--out", str(tmp_path / "model"), *extra]
    status = main(argv)
    printed = capsys.readouterr()
    said = printed.out + printed.err
    assert status == int(exit_status), f"{case}: docs/BAD_INPUT.md says exit {exit_status}, triage gave {status}: {said[-500:]}"
    assert message in said, f"{case}: the output should say '{message}': {said[-500:]}"
    if status != 0:
        assert said.startswith(f"triage {command}: error: ") and not out.exists(), f"{case}: a refused file gives one message and no output"
        assert "Traceback" not in said and len(said) < 2000, f"{case}: a short message, not a traceback or a dump: {len(said)} characters"
        assert not any(text in said for text in TICKET_TEXT), f"{case}: an error never quotes ticket text: {said[-500:]}"
