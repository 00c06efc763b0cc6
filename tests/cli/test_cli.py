"""The `triage` command end to end, called in-process through its entry point."""

import json
from pathlib import Path

import pandas as pd
import pytest

from cli.main import EXIT_BAD_INPUT, main


def test_train_writes_a_model_and_prints_the_evaluation(small_tickets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m"
    assert main(["train", "--data", str(small_tickets_file), "--out", str(out), "--target-precision", "0.9"]) == 0
    printed = capsys.readouterr().out
    assert "macro-F1" in printed and "per language" in printed and "thresholds:" in printed
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["target_precision"] == 0.9
    assert main(["train", "--data", str(small_tickets_file), "--out", str(out)]) == EXIT_BAD_INPUT, "never overwrite a model"


def test_evaluate_reports_json(small_model_dir: Path, small_tickets_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--model", str(small_model_dir), "--data", str(small_tickets_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "macro_f1", "per_class", "per_language", "confusion_matrix", "auto_routed_share", "auto_routed_precision"):
        assert key in report, f"evaluate --json reports {key}"


def test_predict_writes_one_row_per_input_row_in_order(small_model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({
        "id": ["a", "b", "c", "d"],
        "subject": ["Synken", "", "New school", "SSO"],
        "body": ["har stannat sedan i natt", "  ", "please add Norrskolan to the sync", "funkar inte"],
    }).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert main(["predict", "--model", str(small_model_dir), "--input", str(src), "--output", str(out)]) == 0
    result = pd.read_csv(out, keep_default_na=False)
    assert result["id"].tolist() == ["a", "b", "c", "d"]
    assert list(result.columns[:4]) == ["id", "route", "label", "confidence"]
    assert {"p_delivery", "p_support", "message"} <= set(result.columns)
    assert result.loc[1, "route"] == "error" and "no usable text" in result.loc[1, "message"]
    assert set(result.loc[[0, 2, 3], "route"]) <= {"support", "delivery", "review"}


def test_predict_jsonl_output(small_model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "SSO funkar inte"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(small_model_dir), "--input", str(src), "--output", str(out)]) == 0
    assert json.loads(out.read_text().splitlines()[0])["route"] in ("support", "delivery", "review")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ("", "empty"),
        ("subject,body,label\na,b,support\nc,d,support\n", "at least two labels"),
        ("subject,colour\na,b\n", "no 'label' column"),
    ],
)
def test_bad_training_input_exits_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str) -> None:
    data = tmp_path / "bad.csv"
    if content is not None:
        data.write_text(content)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert expected in err and "bad.csv" in err, f"the message names the file and says: {expected}"


def test_invalid_encoding_exits_2(small_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "latin.csv"
    data.write_bytes("subject,body\nå,ä\n".encode("latin-1"))
    assert main(["predict", "--model", str(small_model_dir), "--input", str(data), "--output", str(tmp_path / "o.csv")]) == EXIT_BAD_INPUT
    assert "not valid utf-8" in capsys.readouterr().err


def test_unknown_mapped_column_exits_2(small_tickets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--data", str(small_tickets_file), "--out", str(tmp_path / "m"), "--columns", "label=Kategori"])
    assert code == EXIT_BAD_INPUT and "column 'Kategori'" in capsys.readouterr().err


def test_publish_versions_and_rollback(small_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = tmp_path / "registry"
    assert main(["publish", "--model", str(small_model_dir), "--registry", str(registry)]) == 0
    assert main(["versions", "--registry", str(registry)]) == 0
    assert "* " in capsys.readouterr().out, "the current version is marked"
    assert main(["rollback", "--registry", str(registry)]) == EXIT_BAD_INPUT, "nothing older to roll back to"


def test_export_reviews_feeds_training(small_tickets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.review.items import NewReviewItem
    from service.review.store import ReviewStore

    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    store = ReviewStore(url)
    store.migrate()
    for n, (body, model_label, decided, audit) in enumerate([
        ("Kan ni lägga till Ekskolan i synken? Ring 070-123 45 67", "support", "delivery", False),
        ("SSO:n ger fel sedan i morse för alla lärare", "support", "support", False),
        ("Vi vill få med vår nya förskola Solrosen i synken till Google", "delivery", "delivery", True),  # a blind audit
    ]):
        item = store.enqueue(NewReviewItem(subject=f"ärende {n}", body=body, model_label=model_label, confidence=0.6, audit=audit,
                                           probabilities={"delivery": 0.4, "support": 0.6}, model_version="v1", ticket_id=f"R{n}"))
        store.decide(item.id, decided, reviewer="agent")
    store.close()
    out = tmp_path / "reviews.csv"
    assert main(["export-reviews", "--database", url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 decided reviews" in printed and "agreement" in printed and "66.7%" in printed, "two of three decisions agreed"
    assert "1 of them blind audits" in printed, f"the audit is counted: {printed}"
    exported = pd.read_csv(out, keep_default_na=False)
    assert exported["label"].tolist() == ["delivery", "support", "delivery"] and exported["audit"].tolist() == [False, False, True], \
        f"the audit column marks the audit: {exported}"
    assert "070-123" not in exported["body"][0], "exported text is redacted"
    assert main(["train", "--data", str(small_tickets_file), "--data", str(out), "--out", str(tmp_path / "m")]) == 0
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["data"]["tickets"] == len(pd.read_csv(small_tickets_file)) + 3, "the reviews, the audit included, are part of the training data"


def test_export_reviews_from_a_missing_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export-reviews", "--database", f"sqlite:///{tmp_path / 'nope.db'}", "--out", str(tmp_path / "r.csv")])
    assert code == EXIT_BAD_INPUT and "no review database" in capsys.readouterr().err


def test_sign_and_versions_show_a_refused_version_without_hiding_the_others(small_model_dir: Path, tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from model.registry import SIGNATURE_FILE

    registry = tmp_path / "registry"
    assert main(["publish", "--model", str(small_model_dir), "--registry", str(registry)]) == 0
    version = json.loads((small_model_dir / "metadata.json").read_text())["version"]
    unsigned = registry / "99991231-000000-unsigned"
    shutil.copytree(registry / version, unsigned)
    (unsigned / SIGNATURE_FILE).unlink()
    capsys.readouterr()
    assert main(["versions", "--registry", str(registry)]) == 0
    listed = capsys.readouterr().out
    assert f"* {version}  created" in listed, f"the current version is listed and marked: {listed}"
    assert "99991231-000000-unsigned  refused:" in listed and "not signed" in listed, f"the unsigned version is shown as refused: {listed}"
    assert main(["sign", "--model", str(unsigned)]) == 0, "a model whose files match its metadata can be signed"
    assert main(["versions", "--registry", str(registry)]) == 0
    assert "refused" not in capsys.readouterr().out
    (registry / "CURRENT").unlink()
    assert main(["rollback", "--registry", str(registry)]) == EXIT_BAD_INPUT, "no current version to roll back from"
    assert "CURRENT is missing" in capsys.readouterr().err
    assert main(["rollback", "--registry", str(registry), "--to", version]) == 0, "a version can be chosen again"


def test_an_output_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    import errno

    from cli.commands import write_output

    out = tmp_path / "predictions.csv"
    out.write_text("the earlier predictions\n")

    def fails_half_way(f: object) -> None:
        f.write("id,route\n1,support\n")  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left on device") as raised:
        write_output(out, fails_half_way)
    assert raised.value.filename == str(out), "the error names the output"
    assert out.read_text() == "the earlier predictions\n", "a failed write leaves the earlier file as it was"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"], "and no temporary file behind"
    write_output(out, lambda f: f.write("id,route\n"))
    assert out.read_text() == "id,route\n" and oct(out.stat().st_mode & 0o777) == "0o644", "a complete write replaces it, readable by others"
