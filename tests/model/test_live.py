"""The model in service, offline beside live: what the notebook shows with and without audits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from model.live import COLUMNS, in_service, offline_precision
from model.predictor import TriageModel


@dataclass
class _Label:
    label: str
    audits: int
    correct: int
    precision: float | None
    lower: float | None
    upper: float | None
    below_target: bool = False

    def below(self, target: float | None) -> bool:
        return self.below_target


@dataclass
class _Live:
    window_days: int = 30
    pending_audits: int = 2
    per_label: dict[str, _Label] = field(default_factory=dict)


@pytest.fixture(scope="module")
def model(small_model_dir: Path) -> TriageModel:
    return TriageModel.load(small_model_dir)


def test_offline_precision_is_the_out_of_fold_precision_at_the_thresholds(model: TriageModel) -> None:
    offline = offline_precision(model)
    assert list(offline["label"]) == model.labels and dict(zip(offline["label"], offline["threshold"])) == model.thresholds, f"{offline}"
    assert offline["precision"].dropna().between(0, 1).all() and offline["coverage"].between(0, 1).all(), f"shares: {offline}"


def test_without_a_model_or_a_database_it_says_why(model: TriageModel, tmp_path: Path) -> None:
    def never(*args: object) -> _Live:
        raise AssertionError("no database to read")

    nothing = in_service(never, "sqlite:///x.db", None, 0.95, 30)
    assert nothing.table.empty and list(nothing.table.columns) == COLUMNS and "No model in service" in nothing.message, nothing.message
    for url, fragment in ((None, "No review database given"), (f"sqlite:///{tmp_path / 'none.db'}", "No review database at")):
        shown = in_service(never, url, model, 0.95, 30)
        assert fragment in shown.message and "only the offline estimate" in shown.message, shown.message
        assert shown.table["offline_precision"].notna().any() and shown.table["live_precision"].isna().all(), f"offline only: {shown.table}"


def test_live_figures_stand_beside_the_offline_ones(model: TriageModel, tmp_path: Path) -> None:
    database = tmp_path / "reviews.db"
    database.write_bytes(b"")  # exists: the reader is the stand-in below
    asked: list[tuple[str, str, Sequence[str], float | None, int]] = []
    first, second = model.labels

    def read(url: str, version: str, labels: Sequence[str], target: float | None, window_days: int) -> _Live:
        asked.append((url, version, labels, target, window_days))
        per_label = {first: _Label(first, 40, 30, 0.75, 0.6, 0.86, below_target=True), second: _Label(second, 0, 0, None, None, None)}
        return _Live(window_days=window_days, per_label=per_label)

    shown = in_service(read, f"sqlite:///{database}", model, 0.95, 14)
    assert asked == [(f"sqlite:///{database}", model.version, model.labels, 0.95, 14)], f"the live figures of the model in service: {asked}"
    rows = shown.table.set_index("label")
    assert rows.at[first, "live_precision"] == 0.75 and rows.at[first, "audits"] == 40, f"{rows}"
    assert rows.at[first, "live_verdict"] == "below the target 95%" and rows.at[second, "live_verdict"] == "no audits yet", f"{rows}"
    offline = offline_precision(model).set_index("label")
    pd.testing.assert_series_equal(rows["offline_precision"], offline["precision"], check_names=False, check_dtype=False)
    pd.testing.assert_series_equal(rows["offline_coverage"], offline["coverage"], check_names=False, check_dtype=False)
    assert "**40** blind audits" in shown.message and "14 days" in shown.message and "2 waiting" in shown.message, shown.message
