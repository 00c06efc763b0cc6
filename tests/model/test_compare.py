"""The candidate beside the model in service: the verdict rule, the comparison, saving and publishing."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from model.compare import (
    CANDIDATE,
    IN_SERVICE,
    KEEP_CURRENT,
    MACRO_F1_TOLERANCE,
    PUBLISH,
    Comparison,
    Verdict,
    compare,
    decide,
    heldout_report,
    load_current,
    publish_if_allowed,
    save_candidate,
)
from model.data import DataError, load_tickets
from model.predictor import TriageModel
from model.registry import current_version, list_versions, publish
from model.train import TrainResult, train

TARGET = 0.95


def _report(macro_f1: float, precision: float | None) -> dict[str, Any]:
    return {"macro_f1": macro_f1, "auto_routed_precision": precision}


def test_no_model_in_service_means_publish() -> None:
    verdict = decide(_report(0.5, 0.6), None, TARGET)
    assert verdict == Verdict(PUBLISH, verdict.reason) and "no model in service" in verdict.reason, f"got {verdict}"


def test_candidate_within_tolerance_and_precise_enough_is_published() -> None:
    assert decide(_report(0.90, 0.96), _report(0.90, 0.97), TARGET).publish, "equal macro-F1 and precision above target should publish"
    just_within = decide(_report(0.90 - MACRO_F1_TOLERANCE / 2, 0.96), _report(0.90, 0.97), TARGET)
    assert just_within.publish, f"a macro-F1 loss within the tolerance should still publish, got {just_within}"


def test_candidate_worse_beyond_tolerance_is_kept_out() -> None:
    verdict = decide(_report(0.90 - 2 * MACRO_F1_TOLERANCE, 0.99), _report(0.90, 0.97), TARGET)
    assert verdict.decision == KEEP_CURRENT and "macro-F1" in verdict.reason, f"a macro-F1 loss beyond the tolerance should keep the current one: {verdict}"


def test_candidate_below_target_precision_is_kept_out() -> None:
    verdict = decide(_report(0.95, 0.94), _report(0.90, 0.97), TARGET)
    assert verdict.decision == KEEP_CURRENT and "precision" in verdict.reason, f"precision below target should keep the current model, got {verdict}"
    nothing_routed = decide(_report(0.95, None), _report(0.90, 0.97), TARGET)
    assert nothing_routed.decision == KEEP_CURRENT and "review" in nothing_routed.reason, f"a candidate routing nothing should be kept out: {nothing_routed}"


@pytest.fixture(scope="module")
def heldout() -> pd.DataFrame:
    return load_tickets([Path(__file__).resolve().parents[2] / "data" / "eval" / "independent.csv"])


def test_compare_with_the_model_in_service(small_model_dir: Path, heldout: pd.DataFrame) -> None:
    model = TriageModel.load(small_model_dir)
    result = compare(model, model, heldout, target_precision=0.5)
    assert result.routes_differ == 0, "a model compared with itself should route every ticket the same"
    assert result.verdict.publish, f"an equal candidate above a low target should be published, got {result.verdict}"
    table = result.table()
    assert list(table.columns) == [CANDIDATE, IN_SERVICE], f"the table should have one column per model, got {list(table.columns)}"
    assert table.at["tickets", CANDIDATE] == len(heldout) and table.at["macro-F1", CANDIDATE] == table.at["macro-F1", IN_SERVICE], (
        f"both models should be scored on all {len(heldout)} held-out tickets alike:\n{table}"
    )
    assert table.at["review share", CANDIDATE] == pytest.approx(1 - table.at["auto-routed share", CANDIDATE]), "review share complements auto-routed share"
    assert "route 0 of the" in result.summary(), f"summary should say how many routes differ: {result.summary()}"


def test_compare_without_a_model_in_service(small_model_dir: Path, heldout: pd.DataFrame) -> None:
    result = compare(TriageModel.load(small_model_dir), None, heldout, TARGET)
    assert result.verdict.publish and result.current is None and result.routes_differ is None, f"no current model: publish, got {result}"
    assert list(result.table().columns) == [CANDIDATE], "the table should have only the candidate's column"


def test_heldout_report_refuses_unknown_labels_and_empty_data(small_model_dir: Path, heldout: pd.DataFrame) -> None:
    model = TriageModel.load(small_model_dir)
    with pytest.raises(DataError, match="does not know: incident"):
        heldout_report(model, heldout.assign(label="incident"))
    with pytest.raises(DataError, match="no labelled ticket"):
        heldout_report(model, heldout.assign(label=""))


def test_load_current_follows_the_registry(small_model_dir: Path, tmp_path: Path) -> None:
    assert load_current(tmp_path / "empty") is None, "an empty (or absent) registry has no model in service"
    version = publish(small_model_dir, tmp_path / "registry")
    current = load_current(tmp_path / "registry")
    assert current is not None and current.version == version, f"the registry's current version {version} should load"


@pytest.fixture(scope="module")
def tiny_result(small_tickets_file: Path) -> TrainResult:
    """A model on 60 tickets: enough to save and publish, quick to train."""
    tickets = load_tickets([small_tickets_file])
    return train(tickets.groupby("label").head(30).reset_index(drop=True), c_grid=(10.0,), folds=3)


def test_save_candidate_names_the_directory_by_version(tiny_result: TrainResult, small_tickets_file: Path, tmp_path: Path) -> None:
    directory = save_candidate(tiny_result, tmp_path / "out", [small_tickets_file])
    model = TriageModel.load(directory)
    assert directory.name == model.version, f"the candidate directory should be named by its version {model.version}, got {directory.name}"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755, "the candidate directory should be readable by others, like save_model's"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [directory.name], "no staging folder should be left behind"


def _comparison(version: str, verdict: Verdict) -> Comparison:
    return Comparison(candidate_version=version, candidate={}, current_version=None, current=None, routes_differ=None, verdict=verdict)


def test_publish_only_when_allowed_or_forced(tiny_result: TrainResult, small_tickets_file: Path, small_model_dir: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    in_service = publish(small_model_dir, registry)
    directory = save_candidate(tiny_result, tmp_path / "out", [small_tickets_file])
    keep = _comparison(directory.name, Verdict(KEEP_CURRENT, "worse"))
    message = publish_if_allowed(keep, directory, registry)
    assert current_version(registry) == in_service and directory.name not in list_versions(registry), "a 'keep current' verdict must not publish"
    assert message.startswith("Not published") and "force_publish" in message, f"the message should say how to publish anyway: {message}"
    message = publish_if_allowed(keep, directory, registry, force=True)
    assert current_version(registry) == directory.name, "force=True should publish against the verdict"
    assert "forced" in message and "rollback" in message, f"the message should say it was forced and how to undo: {message}"


def test_publish_verdict_publishes(tiny_result: TrainResult, small_tickets_file: Path, tmp_path: Path) -> None:
    directory = save_candidate(tiny_result, tmp_path / "out", [small_tickets_file])
    message = publish_if_allowed(_comparison(directory.name, Verdict(PUBLISH, "better")), directory, tmp_path / "registry")
    assert current_version(tmp_path / "registry") == directory.name and message.startswith("Published"), f"a 'publish' verdict should publish: {message}"
