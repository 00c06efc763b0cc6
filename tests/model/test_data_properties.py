"""Property tests of the ticket-file reader: whatever bytes a file holds, reading it either works
or raises DataError (which the CLI turns into a message and exit status 2), never anything else.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import model.data
from model.data import ColumnMap, DataError, load_tickets, read_table

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".txt")
ENCODINGS = ("utf-8", "latin-1", "utf-16", "cp1252", "no-such-codec")
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Cells of spreadsheet-like files: the project's column names, labels, quoting, line breaks, NUL,
# a BOM, and a field over the csv module's size limit.
_CELL = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["id", "subject", "body", "text", "label", "language", "title", "description", "", '"', '""', '"a,b"', "\n", "\r\n", ",",
                     "\t", "\x00", "\ufeff", "support", "delivery", "Hej, synken har stannat"]),
    st.just("x" * 140_000),
)
_TABLE = st.lists(st.lists(_CELL, max_size=6), max_size=8).map(lambda rows: "\n".join(",".join(row) for row in rows))


@st.composite
def _well_formed_csv(draw: st.DrawFn) -> str:
    """A CSV with a header of known and unknown columns and rows of random cells, quoted as a spreadsheet would."""
    header = draw(st.lists(st.sampled_from(["id", "subject", "body", "text", "label", "language", "note", "description", "Type", "extra", ""]),
                           min_size=1, max_size=6, unique=True))
    rows = draw(st.lists(st.lists(_CELL, min_size=len(header), max_size=len(header)), max_size=5))
    out = io.StringIO()
    # Excel's way (CRLF, quotes where needed) or quoting everything with LF, so no bare CR is left unquoted.
    ending, quoting = draw(st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\n", csv.QUOTE_ALL)]))
    csv.writer(out, lineterminator=ending, quoting=quoting).writerows([header, *rows])
    return draw(st.sampled_from(["", "\ufeff"])) + out.getvalue()


_JSON_LINES = st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["id", "subject", "body", "text", "label", "x"]), st.one_of(st.none(), st.integers(), st.text(max_size=10),
                    st.lists(st.integers(), max_size=2))).map(json.dumps),
    st.text(max_size=15),
), max_size=6).map("\n".join)
_FILE_BYTES = st.one_of(
    st.binary(max_size=400),
    _TABLE.map(lambda text: text.encode("utf-8")),
    _well_formed_csv().map(lambda text: text.encode("utf-8")),
    _TABLE.map(lambda text: text.encode("latin-1", "replace")),
    _TABLE.map(lambda text: text.encode("utf-16")),
    _JSON_LINES.map(lambda text: text.encode("utf-8")),
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """One folder for every generated file (hypothesis runs many examples per test function)."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@FUZZ
@given(_FILE_BYTES, st.sampled_from(SUFFIXES), st.sampled_from(ENCODINGS))
def test_read_table_returns_a_frame_of_text_or_raises_data_error(folder: Path, content: bytes, suffix: str, encoding: str) -> None:
    path = folder / f"tickets{suffix}"
    path.write_bytes(content)
    try:
        frame = read_table(path, encoding)
    except DataError as e:
        assert str(e).startswith(str(path)), f"a DataError names the file first: {e}"
        return
    assert isinstance(frame, pd.DataFrame), "read_table returns a frame"
    assert frame.columns.is_unique, f"every column has its own name: {list(frame.columns)}"
    assert all(isinstance(v, str) for column in frame.columns for v in frame[column]), "every cell is text"


@FUZZ
@given(_FILE_BYTES, st.sampled_from(SUFFIXES), st.booleans(), st.sampled_from([None, "zendesk"]))
def test_load_tickets_gives_usable_rows_or_raises_data_error(folder: Path, content: bytes, suffix: str, require_label: bool,
                                                             export_format: str | None) -> None:
    path = folder / f"tickets{suffix}"
    path.write_bytes(content)
    try:
        tickets = load_tickets([path], ColumnMap.parse(export_format), require_label=require_label)
    except DataError:
        return
    assert {"id", "text", "label", "language", "usable", "row"} <= set(tickets.columns), f"the ticket frame's columns: {list(tickets.columns)}"
    assert tickets["id"].map(lambda v: isinstance(v, str) and v != "").all(), "every ticket has an id (given or made from file and row)"
    assert tickets["language"].map(lambda v: isinstance(v, str) and v != "").all(), "a missing language is detected, never left empty"
    assert tickets["usable"].map(lambda v: isinstance(v, bool)).all(), "usable is a plain bool per row"


@FUZZ
@given(_well_formed_csv(), st.sampled_from([".csv", ".txt"]))
def test_a_well_formed_csv_with_a_text_column_loads_every_row(folder: Path, text: str, suffix: str) -> None:
    header = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assume(any(name in header for name in ("subject", "body", "text", "description")) and "x" * 140_000 not in text)
    path = folder / f"tickets{suffix}"
    path.write_text(text, encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))[1:]
    tickets = load_tickets([path], require_label=False)
    assert len(tickets) == len(rows), f"every row of a well-formed file is loaded ({len(rows)} rows): {text!r}"
    if "label" in header:
        assert tickets["label"].tolist() == [row[header.index("label")].strip() for row in rows], "labels are read from their column"


def test_a_field_over_the_csv_size_limit_is_a_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model.data, "_MAX_FIELD_CHARS", 1000)  # the real limit (64 MiB) is too large to write in a test
    path = tmp_path / "big.csv"
    path.write_text('id,body,label\n1,"' + "x" * 2000 + '",support\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2.*longer than 1000 characters: shorten that ticket"):
        load_tickets([path])


def test_a_repeated_column_name_is_a_data_error_and_unnamed_columns_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("body,label,body\nhej,support,då\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 1.*names body more than once"):
        load_tickets([path])
    path.write_text("body,label,,\nhej synken,support,,\n", encoding="utf-8")
    assert list(read_table(path).columns) == ["body", "label"], "a spreadsheet's trailing empty columns are dropped, not refused"
