import json
from pathlib import Path

import pytest

from model.data import ColumnMap, DataError, load_tickets, training_rows


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_subject_and_body(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", "id,subject,body,label\n1,Synken,har stannat,support\n2,,Ny skola i synken,delivery\n")
    t = load_tickets([f])
    assert t["text"].tolist() == ["Synken\nhar stannat", "Ny skola i synken"]
    assert t["id"].tolist() == ["1", "2"] and t["row"].tolist() == [2, 3]
    assert set(t["language"]) <= {"sv", "en", "mixed", "unknown"}, "language is detected when the column is missing"


def test_jsonl_with_text_column_and_extra_columns_ignored(tmp_path: Path) -> None:
    lines = [{"text": "SSO down", "label": "support", "priority": "high"}, {"text": "add a school", "label": "delivery"}]
    f = write(tmp_path / "t.jsonl", "\n".join(json.dumps(x) for x in lines))
    t = load_tickets([f])
    assert t["text"].tolist() == ["SSO down", "add a school"]
    assert "priority" not in t.columns


def test_bom_crlf_and_quoted_newlines(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", '\ufeffsubject,body,label\r\nA,"rad ett\r\nrad två",support\r\nB,x y,delivery\r\n')
    t = load_tickets([f])
    assert t["label"].tolist() == ["support", "delivery"], "a BOM must not rename the first column"
    assert "rad två" in t["text"][0]


def test_latin1_is_refused_with_a_hint_and_read_with_encoding(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", "subject,body,label\nå,fel på synken,support\nb,ny skola,delivery\n", "latin-1")
    with pytest.raises(DataError, match=r"t\.csv.*not valid utf-8.*line 2.*--encoding"):
        load_tickets([f])
    assert load_tickets([f], encoding="latin-1")["text"][0].startswith("å")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("subject,body\nx,y\n", "no 'label' column"),
        ("foo,label\nx,support\n", "no ticket text"),
        ("subject,body,label\na,b,support,extra\n", "row 2.*4 fields where the header has 3"),
    ],
)
def test_bad_files_name_file_row_and_column(tmp_path: Path, content: str, message: str) -> None:
    f = write(tmp_path / "bad.csv", content)
    with pytest.raises(DataError, match=message) as err:
        load_tickets([f])
    assert "bad.csv" in str(err.value), "the message names the file"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_tickets([tmp_path / "nope.csv"])


def test_invalid_json_line_names_the_row(tmp_path: Path) -> None:
    f = write(tmp_path / "t.jsonl", '{"text": "a", "label": "support"}\n{oops\n')
    with pytest.raises(DataError, match="row 2.*invalid JSON"):
        load_tickets([f])


def test_freshdesk_export_columns(tmp_path: Path) -> None:
    f = write(tmp_path / "fd.csv", "Ticket ID,Subject,Description,Type,Status\n17,Synk,stannat,support,Open\n18,Skola,ny skola,delivery,Open\n")
    t = load_tickets([f], ColumnMap.parse("freshdesk"))
    assert t["id"].tolist() == ["17", "18"] and t["label"].tolist() == ["support", "delivery"]


def test_mapping_to_a_missing_column_is_an_error(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", "subject,body,label\na,b,support\n")
    with pytest.raises(DataError, match="column 'Kategori' .*not found"):
        load_tickets([f], ColumnMap.parse(columns="label=Kategori"))
    with pytest.raises(ValueError, match="bad column mapping"):
        ColumnMap.parse(columns="colour=Kategori")


def test_issue_tracker_title_is_read_as_subject(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", "title,body,label\nCrash,on start,bug\nAdd dark mode,please,feature\n")
    assert load_tickets([f])["text"].tolist() == ["Crash\non start", "Add dark mode\nplease"]


def test_training_rows_skip_unusable_and_need_two_labels(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", "subject,body,label\na,b,support\nc,d,support\n,,delivery\n")
    with pytest.raises(DataError, match="at least two labels; found only: support"):
        training_rows(load_tickets([f]))
    g = write(tmp_path / "u.csv", "subject,body,label\na,b,support\nc,d,support\ne,f,delivery\ng,h,delivery\n,,delivery\n")
    rows, warnings = training_rows(load_tickets([g]))
    assert len(rows) == 4 and warnings == [f"{g}, row 6: skipped (no usable text)"]


def test_fields_larger_than_the_csv_default_are_read(tmp_path: Path) -> None:
    log = "stack frame\n" * 20_000  # 240 kB in one field, as issue trackers' pasted logs are
    f = write(tmp_path / "t.csv", f'title,body,label\nCrash,"{log}",bug\nIdea,add X,feature\n')
    assert len(load_tickets([f])["text"][0]) > 200_000


def test_column_names_match_case_insensitively(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", "Title,Body,Label,Language\nCrash,on start,bug,en\nIdea,add X,feature,en\n")
    t = load_tickets([f])
    assert t["text"].tolist() == ["Crash\non start", "Idea\nadd X"], "Title/Body are read as subject/body"
    assert t["label"].tolist() == ["bug", "feature"], "Label is read as label"


def test_an_exact_column_name_wins_over_a_differently_cased_one(tmp_path: Path) -> None:
    f = write(tmp_path / "t.csv", "LABEL,label,body\nwrong,support,a\nwrong,delivery,b\n")
    assert load_tickets([f])["label"].tolist() == ["support", "delivery"]
