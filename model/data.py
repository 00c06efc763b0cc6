"""Loading and validating ticket files (CSV or JSON Lines) for training, evaluation and prediction.

Every problem with an input file is raised as `DataError`, naming the file, and the row and
column where that is known, so the CLI can print it and exit with status 2.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.language import detect_language
from model.text import clean_texts, has_words, ticket_text

COLUMNS = ("id", "subject", "body", "language", "label", "difficulty", "scenario", "note")

# Column names of common helpdesk exports, mapped onto this project's names.
EXPORT_FORMATS: dict[str, dict[str, str]] = {
    "freshdesk": {"id": "Ticket ID", "subject": "Subject", "body": "Description", "label": "Type"},
    "zendesk": {"id": "Id", "subject": "Subject", "body": "Description", "label": "Type"},
}
# Used only when the project's own column is absent (e.g. issue trackers' "title").
_ALIASES: dict[str, tuple[str, ...]] = {
    "subject": ("title", "summary"),
    "body": ("description", "content", "message"),
}


# Values from a file named in a message: a label or a column name is short, but a mis-mapped
# column (`--columns label=body`) or a file without a header turns ticket text into "labels" and
# "column names". Messages name at most a few such values, and only short ones, so an error never
# quotes a ticket (and never grows with the file).
_NAMED_VALUES = 10
_NAME_CHARS = 40


def describe_names(values: Iterable[object]) -> str:
    """Column names or labels for a message: the first few short ones, and how many more."""
    values = list(values)
    shown = [v if len(v) <= _NAME_CHARS and v.isprintable() else f"(a value of {len(v):,} characters)"
             for v in map(str, values[:_NAMED_VALUES])]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more else "")


def sources_of(tickets: pd.DataFrame) -> str:
    """The files a frame of `load_tickets` came from, for a message (also when it has no rows)."""
    files = sorted(set(tickets["source"])) if len(tickets) else list(tickets.attrs.get("sources", []))
    return ", ".join(files) or "(no file)"


class DataError(ValueError):
    """A ticket file that cannot be used, with where and why."""

    def __init__(self, path: str | Path, message: str, row: int | None = None, column: str | None = None):
        self.path, self.row, self.column = str(path), row, column
        where = self.path + (f", row {row}" if row is not None else "") + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of a file hold the project's fields; built from --format and --columns."""

    mapping: Mapping[str, str]

    @classmethod
    def parse(cls, export_format: str | None = None, columns: str | None = None) -> ColumnMap:
        """Combine a named export format with 'field=Column,field=Column' overrides."""
        mapping: dict[str, str] = {}
        if export_format:
            if export_format not in EXPORT_FORMATS:
                known = ", ".join(sorted(EXPORT_FORMATS))
                raise ValueError(f"unknown export format '{export_format}' (known: {known})")
            mapping.update(EXPORT_FORMATS[export_format])
        for pair in filter(None, (columns or "").split(",")):
            field, sep, column = pair.partition("=")
            field, column = field.strip(), column.strip()
            if not sep or field not in (*COLUMNS, "text") or not column:
                raise ValueError(f"bad column mapping '{pair}': write field=Column, field one of {', '.join((*COLUMNS, 'text'))}")
            mapping[field] = column
        return cls(mapping)


def read_table(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a CSV or JSON Lines file into a frame of strings, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "not a file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(path, f"not valid {encoding} at byte {e.start} (line {line}); save the file as UTF-8 or pass --encoding latin-1", row=None) from None
    except LookupError:
        raise DataError(path, f"unknown encoding '{encoding}'") from None
    if not text.strip():
        raise DataError(path, "the file is empty")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path, text)
    return _read_csv(path, text)


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            # Numbers are kept as written (every value becomes text): a 5,000-digit id is an id, not
            # an integer Python refuses to convert.
            record = json.loads(line, parse_int=str)
        except json.JSONDecodeError as e:
            raise DataError(path, f"invalid JSON ({e.msg}); each line must be one JSON object", row=n) from None
        except RecursionError:
            raise DataError(path, "invalid JSON: nested too deeply; each line must be one JSON object of ticket fields", row=n) from None
        except ValueError as e:  # e.g. a float Python cannot represent
            raise DataError(path, f"invalid JSON ({type(e).__name__}); each line must be one JSON object", row=n) from None
        if not isinstance(record, dict):
            raise DataError(path, "each line must be a JSON object", row=n)
        try:
            records.append({k: "" if v is None else str(v) for k, v in record.items()})
        except RecursionError:
            raise DataError(path, "a field nests too deeply to be read as text; give every field as a string", row=n) from None
    frame = pd.DataFrame.from_records(records).fillna("")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame.astype(object)


# Issue-tracker exports carry whole logs in one field, beyond the csv module's 128 KiB default.
_MAX_FIELD_CHARS = 64 * 1024 * 1024


def _read_csv(path: Path, text: str) -> pd.DataFrame:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    csv.field_size_limit(_MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as e:
        hint = (f"a field is longer than {csv.field_size_limit()} characters: shorten that ticket" if "field limit" in str(e)
                else f"not readable as CSV ({e}); check the quoting up to this line")
        raise DataError(path, hint, row=reader.line_num) from None
    header = [h.strip() for h in rows[0]]
    if not any(header):
        raise DataError(path, "the first line must name the columns", row=1)
    repeated = sorted(name for name, n in Counter(name for name in header if name).items() if n > 1)
    if repeated:
        raise DataError(path, f"the header names {describe_names(repeated)} more than once; give every column its own name", row=1)
    records = []
    for n, row in enumerate(rows[1:], 2):
        if not row:  # an empty line; a row of empty fields is still a row
            continue
        if len(row) != len(header):
            raise DataError(path, f"{len(row)} fields where the header has {len(header)}; quote fields that contain commas", row=n)
        records.append(row)
    # One object block rather than a column at a time: a file of 200,000 columns is read in a fraction of a second.
    cells = np.array(records, dtype=object) if records else np.empty((0, len(header)), dtype=object)
    frame = pd.DataFrame(cells, columns=header, dtype=object, copy=False)
    # Columns without a name (a spreadsheet's trailing commas) cannot be mapped to a field.
    frame = frame.loc[:, [bool(name) for name in header]]
    frame.index = pd.RangeIndex(2, len(frame) + 2)  # rows numbered as lines in the file
    return frame


def load_tickets(
    paths: Sequence[str | Path],
    columns: ColumnMap | None = None,
    require_label: bool = True,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Load ticket files into one frame: id, text, label, language, difficulty, scenario, note, source, row,
    cleaned (the text as the model reads it: `model.text.clean_text`, made once here) and usable.

    Rows with no usable text are kept with `usable=False`; training drops them, prediction
    answers them with an error row.
    """
    if not paths:
        raise DataError("(none)", "no data file given")
    frames = [_normalise(read_table(p, encoding), Path(p), columns or ColumnMap({}), require_label) for p in paths]
    tickets = pd.concat(frames, ignore_index=True)
    tickets.attrs["sources"] = [str(p) for p in paths]  # named in messages even when the files hold no rows
    return tickets


def _normalise(frame: pd.DataFrame, path: Path, columns: ColumnMap, require_label: bool) -> pd.DataFrame:
    present = set(frame.columns)
    for field, column in columns.mapping.items():
        if column not in present:
            raise DataError(path, f"column '{column}' (mapped to {field}) not found; columns are: {describe_names(frame.columns)}", column=column)

    # Exports capitalise freely ("Title", "Label"): names match case-insensitively unless exact.
    by_lower = {str(c).strip().lower(): c for c in reversed(list(frame.columns))}

    def column_for(field: str) -> str | None:
        if field in columns.mapping:
            return columns.mapping[field]
        if field in present:
            return field
        for name in (field, *_ALIASES.get(field, ())):
            if name in present:
                return name
            if name in by_lower:
                return str(by_lower[name])
        return None

    def values(field: str) -> pd.Series:
        name = column_for(field)
        return frame[name].astype(str).str.strip() if name else pd.Series("", index=frame.index, dtype=object)

    text_col, subject_col, body_col = column_for("text"), column_for("subject"), column_for("body")
    if not (text_col or subject_col or body_col):
        raise DataError(path, f"no ticket text: give a 'text' column or 'subject' and 'body' (columns are: {describe_names(frame.columns)})", column="body")
    if text_col:
        text = frame[text_col].astype(str)
    else:
        text = pd.Series([ticket_text(s, b) for s, b in zip(values("subject"), values("body"))], index=frame.index, dtype=object)
    label_col = column_for("label")
    if require_label and not label_col:
        raise DataError(path, f"no 'label' column (columns are: {describe_names(frame.columns)}); map one with --columns label=NAME", column="label")
    ids = values("id")
    out = pd.DataFrame(
        {
            "id": [i if i else f"{path.name}:{n}" for i, n in zip(ids, frame.index)],
            "text": text,
            "label": values("label"),
            "language": values("language"),
            "difficulty": values("difficulty"),
            "scenario": values("scenario"),
            "note": values("note"),
            "source": str(path),
            "row": frame.index,
        },
        dtype=object,
    )
    out["row"] = out["row"].astype(int)
    out["cleaned"] = clean_texts(out["text"].tolist())
    out["usable"] = [has_words(c) for c in out["cleaned"]]
    missing_language = out["language"] == ""
    out.loc[missing_language, "language"] = [detect_language(t) for t in out.loc[missing_language, "text"]]
    return out.reset_index(drop=True)


def training_rows(tickets: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rows fit for training (usable text and a label) and a warning per row left out."""
    keep = tickets["usable"] & (tickets["label"] != "")
    warnings = [
        f"{r.source}, row {r.row}: skipped ({'no label' if not r.label else 'no usable text'})"
        for r in tickets.loc[~keep].itertuples()
    ]
    rows = tickets.loc[keep].reset_index(drop=True)
    labels = sorted(rows["label"].unique())
    if len(labels) < 2:
        found = f"found only: {describe_names(labels)}" if labels else "found no labelled ticket with usable text"
        raise DataError(sources_of(tickets), f"training needs at least two labels; {found}", column="label")
    counts = rows["label"].value_counts()
    if counts.min() < 2:
        rare = counts[counts < 2].index
        raise DataError(sources_of(tickets), f"every label needs at least 2 tickets; too few for {len(rare):,} of {len(counts):,} labels: "
                                             f"{describe_names(rare)} (is the label column the right one?)", column="label")
    return rows, warnings
