"""A review database that this service did not write, or that was damaged or tampered with: the
export and the purge (`triage export-reviews` / `purge-reviews`, which take any --database) stop
with exit status 2 and a message naming what is wrong, never hang and never quote ticket text."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from cli.main import EXIT_BAD_INPUT, main
from service.review.items import NewReviewItem
from service.review.store import ReviewStore

SECRET = "Eleven Kalle saknas i synken"


def _decided_database(path: Path, items: int = 3) -> str:
    url = f"sqlite:///{path}"
    with ReviewStore(url) as store:
        store.migrate()
        for n in range(items):
            item = store.enqueue(NewReviewItem(subject=f"ärende {n}", body=SECRET, model_label="support", confidence=0.6,
                                               probabilities={"delivery": 0.4, "support": 0.6}, model_version="v1", ticket_id=f"R{n}"))
            store.decide(item.id, "delivery", reviewer="agent")
    return url


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], seconds: float = 60) -> tuple[int, str]:
    """`triage ARGV` in a thread, failing the test if it does not finish in time (a hang)."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"triage {argv[0]} did not finish within {seconds} s: it hangs on this database"
    return result[0], capsys.readouterr().err


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("probabilities", "not json", "'probabilities' is not JSON"),
    ("probabilities", '["a list"]', "'probabilities' is not a mapping of label to number"),
    ("decided_at", "yesterday", "a timestamp column holds text that is no timestamp"),
    ("created_at", "2024-13-45 99:99:99", "a timestamp column holds text that is no timestamp"),
    ("confidence", "very", "ValueError"),
    ("body", b"\x00\x01binary", "a text column holds bytes"),
])
def test_a_damaged_row_is_named_by_its_id(tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str, value: object, reason: str) -> None:
    url = _decided_database(tmp_path / "r.db")
    with sqlite3.connect(tmp_path / "r.db") as connection:
        connection.execute("PRAGMA ignore_check_constraints = ON")
        connection.execute(f"UPDATE review_items SET {column} = ? WHERE id = 2", (value,))
    out = tmp_path / "export.csv"
    status, said = _run(["export-reviews", "--database", url, "--out", str(out)], capsys)
    assert status == EXIT_BAD_INPUT, f"a damaged row: exit status 2, got {status}: {said}"
    assert "row with id 2 cannot be read" in said and reason in said, f"the message names the row and what is wrong: {said}"
    assert SECRET not in said and "Traceback" not in said, f"a message that quotes no ticket text: {said}"
    assert not out.exists(), "nothing is exported from a database that cannot be read whole"


def test_a_recursive_view_in_place_of_the_table_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _decided_database(tmp_path / "r.db", items=1)
    with sqlite3.connect(tmp_path / "r.db") as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(review_items)")]
        connection.execute("DROP TABLE review_items")
        select = ", ".join(f"n AS {c}" for c in columns)
        connection.execute(f"CREATE VIEW review_items AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT {select} FROM r")
    for argv in (["export-reviews", "--database", url, "--out", str(tmp_path / "e.csv")],
                 ["purge-reviews", "--database", url, "--older-than-days", "0"]):
        status, said = _run(argv, capsys, seconds=30)
        assert status == EXIT_BAD_INPUT and "review_items is a view, not the table" in said, f"triage {argv[0]} refuses the view: {status} {said}"


def test_text_stored_before_redaction_improved_is_redacted_as_it_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _decided_database(tmp_path / "r.db", items=1)
    with sqlite3.connect(tmp_path / "r.db") as connection:  # as an older release stored it
        connection.execute("UPDATE review_items SET body = ?, note = ?", ("Ring (08) 123 456 78 om pnr811218-9876", "svar till anna@skola"))
    out = tmp_path / "export.csv"
    status, said = _run(["export-reviews", "--database", url, "--out", str(out)], capsys)
    assert status == 0, said
    exported = out.read_text(encoding="utf-8")
    assert "123 456" not in exported and "9876" not in exported and "anna@" not in exported, f"old rows leave the store redacted: {exported}"
    assert "[PHONE]" in exported and "[PERSONNUMMER]" in exported and "[EMAIL]" in exported
