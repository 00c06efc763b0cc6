"""Diagnostics of a trained model: tables, calibration, precision-coverage, terms, doubtful labels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.decision import REVIEW
from model.diagnostics import (
    advice_text,
    at_thresholds,
    expected_calibration_error,
    likely_mislabelled,
    overall_table,
    per_class_table,
    per_language_table,
    precision_coverage,
    reliability_curve,
    routing_shares,
    routing_table,
    top_terms,
)
from model.evaluate import evaluation_report
from model.predictor import TriageModel

LABELS = ["delivery", "support"]


def _proba(p_delivery: list[float]) -> np.ndarray:
    p = np.asarray(p_delivery)
    return np.column_stack([p, 1 - p])


def test_reliability_curve_of_a_calibrated_model() -> None:
    # Ten tickets at 0.9 for delivery (9 right) and ten at 0.7 (7 right): calibrated by construction.
    proba = _proba([0.9] * 10 + [0.7] * 10)
    y = ["delivery"] * 9 + ["support"] + ["delivery"] * 7 + ["support"] * 3
    curve = reliability_curve(y, proba, LABELS, bins=5)
    assert curve["n"].sum() == 20 and len(curve) == 2, f"the two confidence levels should fill two bins:\n{curve}"
    assert np.allclose(curve["accuracy"], curve["mean_confidence"]), f"accuracy should equal confidence in each bin:\n{curve}"
    assert expected_calibration_error(curve) == pytest.approx(0.0, abs=1e-12), "a calibrated model should have ECE 0"
    assert curve["bin_low"].min() >= 0.5, "with two labels the top confidence, and so the bins, start at 0.5"


def test_reliability_curve_of_an_overconfident_model() -> None:
    proba = _proba([0.99] * 10)
    y = ["delivery"] * 5 + ["support"] * 5
    curve = reliability_curve(y, proba, LABELS)
    assert expected_calibration_error(curve) == pytest.approx(0.49), f"confidence 0.99 at accuracy 0.5 should give ECE 0.49, got {curve}"
    assert curve.iloc[-1]["bin_high"] == pytest.approx(1.0), "the last bin should end at confidence 1"


def test_precision_coverage_by_hand() -> None:
    # Predicted delivery at 0.9 (right), 0.8 (wrong), 0.8 (right); support at 0.6 (right). Four tickets.
    proba = _proba([0.9, 0.8, 0.8, 0.4])
    y = ["delivery", "support", "delivery", "support"]
    curve = precision_coverage(y, proba, LABELS)
    delivery = curve[curve["label"] == "delivery"]
    assert delivery["threshold"].tolist() == [0.9, 0.8], f"the tie at 0.8 should be one point:\n{delivery}"
    assert delivery["coverage"].tolist() == [0.25, 0.75], f"coverage is the share of all four tickets:\n{delivery}"
    assert delivery["precision"].tolist() == pytest.approx([1.0, 2 / 3]), f"precision over admitted tickets:\n{delivery}"
    chosen = at_thresholds(curve, {"delivery": 0.85, "support": 0.95}).set_index("label")
    assert chosen.at["delivery", "coverage"] == 0.25 and chosen.at["delivery", "precision"] == 1.0, f"0.85 admits only the 0.9 ticket:\n{chosen}"
    assert chosen.at["support", "coverage"] == 0.0 and pd.isna(chosen.at["support", "precision"]), f"0.95 admits no support ticket:\n{chosen}"


def test_routing_shares_add_up_and_count_review() -> None:
    proba = _proba([0.95, 0.6, 0.1, 0.5])
    shares = routing_shares(proba, LABELS, {"delivery": 0.9, "support": 0.9})
    assert shares.to_dict() == {"delivery": 0.25, "support": 0.25, REVIEW: 0.5}, f"one ticket per label and two to review, got {shares.to_dict()}"


def test_likely_mislabelled_lists_lowest_probability_of_the_given_label_first() -> None:
    tickets = pd.DataFrame({
        "id": ["a", "b", "c"], "label": ["delivery", "support", "delivery"], "language": ["sv", "en", "sv"],
        "source": ["f.csv"] * 3, "text": ["x", "y", "z"], "difficulty": ["normal", "hard", "normal"],
    })
    table = likely_mislabelled(tickets, _proba([0.8, 0.95, 0.3]), LABELS, n=2)
    assert table["id"].tolist() == ["b", "c"], f"b (p=0.05) then c (p=0.3) should be listed, got {table['id'].tolist()}"
    assert table["p_label"].tolist() == pytest.approx([0.05, 0.3]) and table["model_says"].tolist() == ["delivery", "support"], f"wrong columns:\n{table}"
    with pytest.raises(ValueError, match="rows of probabilities"):
        likely_mislabelled(tickets, _proba([0.5]), LABELS)


def test_metric_tables_from_a_report() -> None:
    y = ["delivery", "support", "delivery", "support"]
    report = evaluation_report(y, _proba([0.9, 0.2, 0.4, 0.3]), LABELS, {"delivery": 0.5, "support": 0.5}, ["sv", "sv", "en", "en"])
    assert overall_table(report).loc[0, "accuracy"] == 0.75, "three of four right"
    assert per_class_table(report).loc["delivery", "recall"] == 0.5, "one of the two delivery tickets found"
    assert set(per_language_table(report).index) == {"sv", "en"}, "a row per language"


def test_top_terms_of_a_trained_model(small_model_dir: Path) -> None:
    model = TriageModel.load(small_model_dir)
    terms = top_terms(model.pipeline, k=8)
    assert sorted(set(terms["label"])) == model.labels and (terms.groupby("label").size() == 8).all(), f"8 terms per label:\n{terms}"
    assert (terms["weight"] > 0).all() and set(terms["kind"]) == {"word"}, "word terms with positive pushes only, by default"
    for _, part in terms.groupby("label"):
        assert part["weight"].is_monotonic_decreasing, f"terms should be strongest first:\n{part}"
    with_char = top_terms(model.pipeline, k=200, include_char_ngrams=True)
    assert "char" in set(with_char["kind"]), "character n-grams should appear when asked for"
    delivery, support = (set(terms.loc[terms["label"] == lab, "term"]) for lab in ("delivery", "support"))
    assert not delivery & support, f"a term cannot push towards both labels: {delivery & support}"


def test_figures_render_including_a_label_that_is_never_auto_routed() -> None:
    from matplotlib.figure import Figure

    from model import plots
    from model.decision import NEVER

    y = ["delivery", "support", "delivery", "support", "support"]
    proba = _proba([0.9, 0.2, 0.8, 0.6, 0.45])
    thresholds = {"delivery": 0.85, "support": NEVER}
    report = evaluation_report(y, proba, LABELS, thresholds, ["sv", "en", "sv", "mixed", "en"])
    curve = precision_coverage(y, proba, LABELS)
    reliability = reliability_curve(y, proba, LABELS)
    figures = {
        "confusion matrix": plots.confusion_matrix(report),
        "scores": plots.scores_by_class_and_language(report),
        "reliability": plots.reliability(reliability, expected_calibration_error(reliability)),
        "precision-coverage": plots.precision_coverage(curve, at_thresholds(curve, thresholds), 0.95),
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure) and figure.axes, f"{name} should be a figure with axes"
        png = io.BytesIO()
        figure.savefig(png, format="png")  # renders: fails on bad data, not only on bad calls
        assert png.getvalue().startswith(b"\x89PNG"), f"{name} should render to a PNG"
    marked = [c for c in figures["precision-coverage"].axes[0].collections if len(c.get_offsets())]
    assert len(marked) == 1, f"only delivery has a threshold any ticket clears, so one point should be marked, got {len(marked)}"


def test_routing_table_has_a_row_per_target_and_a_column_pair_per_set() -> None:
    routing = [{"target": t, "thresholds": {}, "held out": {"auto_routed_share": s, "auto_routed_precision": p}}
               for t, s, p in ((0.90, 0.8, 0.93), (0.95, 0.6, 0.97))]
    table = routing_table(routing)
    assert list(table.index) == ["0.90", "0.95"]
    assert table.loc["0.95", ("held out", "auto-routed")] == 0.6 and table.loc["0.90", ("held out", "precision")] == 0.93
    assert advice_text([]) == "" and advice_text(["few routed"]) == "**Warning:** few routed"
