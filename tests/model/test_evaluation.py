"""Minimum scores of the default model: cross-validated, and the promise on the two sets of
tickets written apart from the training data (never used to fit or choose anything)."""

import json
from pathlib import Path

import numpy as np
import pytest

from model.data import load_tickets
from model.evaluate import evaluation_report
from model.predictor import TriageModel
from tests.conftest import EDGE_CASES, INDEPENDENT

pytestmark = pytest.mark.slow
TARGET = 0.95


def test_cross_validated_scores(full_model_dir: Path) -> None:
    meta = json.loads((full_model_dir / "metadata.json").read_text())
    held_out, familiar = meta["metrics"], meta["familiar_metrics"]
    assert meta["target_precision"] == TARGET
    assert familiar["macro_f1"] >= 0.90, "ordinary out-of-fold macro-F1 should be >= 0.90"
    assert held_out["macro_f1"] >= 0.80, "macro-F1 on situations held out of training should be >= 0.80"
    assert held_out["auto_routed_precision"] >= TARGET, "on held-out situations, auto-routed tickets meet the target the thresholds were chosen for"
    for lang, m in familiar["per_language"].items():
        assert m["macro_f1"] >= 0.85, f"out-of-fold macro-F1 for {lang} should be >= 0.85"


@pytest.mark.parametrize(("path", "min_auto", "min_macro_f1", "min_hard_f1"), [
    (INDEPENDENT, 0.75, 0.93, 0.80),  # ordinary traffic, a fifth of it hard
    (EDGE_CASES, 0.60, 0.85, 0.75),  # two thirds edge cases: what the model cannot know goes to review
], ids=["independent", "edge-cases"])
def test_the_promise_holds_on_tickets_written_apart(full_model_dir: Path, path: Path, min_auto: float, min_macro_f1: float,
                                                   min_hard_f1: float) -> None:
    model = TriageModel.load(full_model_dir)
    rows = load_tickets([path])
    y, proba = rows["label"].to_numpy(), model.predict_proba(rows["text"].tolist())
    report = evaluation_report(y, proba, model.labels, model.thresholds, rows["language"].tolist())
    hard = (rows["difficulty"] == "hard").to_numpy()
    hard_report = evaluation_report(y[hard], proba[hard], model.labels, model.thresholds)
    assert report["auto_routed_precision"] >= TARGET, f"{path.name}: auto-routed tickets should be at least {TARGET:.0%} correct"
    assert report["auto_routed_share"] >= min_auto, f"{path.name}: at least {min_auto:.0%} should be routed automatically"
    assert report["macro_f1"] >= min_macro_f1, f"{path.name}: macro-F1 should be >= {min_macro_f1}"
    assert hard_report["macro_f1"] >= min_hard_f1, f"{path.name}: macro-F1 on the hard tickets should be >= {min_hard_f1}"
    assert report["calibration_error"] <= 0.05, f"{path.name}: expected calibration error should be <= 0.05"


def test_a_short_ticket_of_request_words_is_not_near_certain(full_model_dir: Path) -> None:
    model = TriageModel.load(full_model_dir)
    short = ["Vi vill ha hjälp", "Kan ni lägga till det?", "We would like to add", "Vi vill ändra", "please add"]
    confidence = model.predict_proba(short).max(axis=1)
    assert np.all(confidence < 0.995), f"a few request words are not near-certain evidence: {dict(zip(short, confidence.round(5)))}"
