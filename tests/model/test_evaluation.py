"""Minimum scores of the default model: cross-validated, and on the independently written set."""

import json
from pathlib import Path

import pytest

from model.data import load_tickets
from model.evaluate import evaluation_report
from model.predictor import TriageModel
from tests.conftest import INDEPENDENT

pytestmark = pytest.mark.slow


def test_cross_validated_scores(full_model_dir: Path) -> None:
    metrics = json.loads((full_model_dir / "metadata.json").read_text())["metrics"]
    assert metrics["macro_f1"] >= 0.90, "out-of-fold macro-F1 should be >= 0.90"
    assert metrics["auto_routed_precision"] >= 0.94, "out-of-fold precision on auto-routed tickets should be near the 0.95 target"
    for lang, m in metrics["per_language"].items():
        assert m["macro_f1"] >= 0.85, f"out-of-fold macro-F1 for {lang} should be >= 0.85"


def test_independently_written_tickets(full_model_dir: Path) -> None:
    """Tickets written apart from the training data, never used to choose anything."""
    model = TriageModel.load(full_model_dir)
    rows = load_tickets([INDEPENDENT])
    report = evaluation_report(rows["label"].tolist(), model.predict_proba(rows["text"].tolist()), model.labels, model.thresholds,
                               rows["language"].tolist())
    assert report["macro_f1"] >= 0.85, "macro-F1 on independent tickets should be >= 0.85"
    assert report["auto_routed_share"] >= 0.6, "at least 60% of independent tickets should be auto-routed"
    assert report["auto_routed_precision"] >= 0.9, "auto-routed independent tickets should be >= 90% correct"
