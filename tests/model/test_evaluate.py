"""Evaluation figures: calibration error, what each target precision costs, and the words for a
target that routes little."""

import numpy as np
import pytest

from model.decision import NEVER
from model.evaluate import calibration_error, evaluation_report, format_routing_table, routing_at_targets, routing_warnings

LABELS = ["delivery", "support"]


def _proba(p_support: list[float]) -> np.ndarray:
    p = np.asarray(p_support)
    return np.column_stack([1 - p, p])


def test_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy() -> None:
    # Ten tickets at confidence 0.9, all right: gap 0.1. Ten at 0.6, half right: gap 0.1.
    proba = _proba([0.9] * 10 + [0.6] * 10)
    y = ["support"] * 10 + ["support"] * 5 + ["delivery"] * 5
    assert calibration_error(y, proba, LABELS) == pytest.approx(0.1)  # bins of width 0.05 from 0.5: 0.6 and 0.9 fall apart
    assert calibration_error(["support"] * 4, _proba([1.0] * 4), LABELS) == pytest.approx(0.0), "sure and right: no gap"
    report = evaluation_report(y, proba, LABELS, {"delivery": 0.5, "support": 0.5})
    assert report["calibration_error"] == pytest.approx(0.1), "the report carries the calibration error"


def test_routing_at_targets_chooses_thresholds_on_the_out_of_fold_predictions_and_applies_them_elsewhere() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 0.3, 4000)  # most tickets near-certain one way or the other
    y_oof = np.where(rng.uniform(0, 1, 4000) < p, "support", "delivery")  # calibrated: right as often as sure
    rows = routing_at_targets(_proba(p), y_oof, LABELS, {"held out": (y_oof, _proba(p)), "other": (["support"] * 3, _proba([0.99, 0.5, 0.01]))},
                              targets=(0.90, 0.97))
    assert [r["target"] for r in rows] == [0.90, 0.97]
    low, high = rows
    assert high["held out"]["auto_routed_share"] < low["held out"]["auto_routed_share"], "a higher target routes fewer tickets"
    assert low["held out"]["auto_routed_precision"] >= 0.90 and high["held out"]["auto_routed_precision"] >= 0.97
    assert high["thresholds"]["support"] > low["thresholds"]["support"]
    assert low["other"]["auto_routed_share"] == pytest.approx(2 / 3), "the confident support and delivery tickets are routed, 0.5 is not"
    assert low["other"]["auto_routed_precision"] == pytest.approx(0.5)
    table = format_routing_table(rows)
    assert "0.90" in table and "0.97" in table and "held out" in table


def test_a_target_that_routes_little_is_said_in_words_with_the_options() -> None:
    routing = [{"target": 0.90, "thresholds": {}, "held out": {"auto_routed_share": 0.4, "auto_routed_precision": 0.93}},
               {"target": 0.95, "thresholds": {}, "held out": {"auto_routed_share": 0.1, "auto_routed_precision": 0.97}}]
    [advice] = routing_warnings({"delivery": 0.97, "support": 0.99}, 0.95, 0.1, routing, "held out")
    assert "only 10.0%" in advice and "label more tickets" in advice and "0.90 routes 40.0%" in advice and "review" in advice
    never = routing_warnings({"delivery": NEVER, "support": 0.9}, 0.95, 0.6, routing, "held out")
    assert len(never) == 1 and "'delivery' never" in never[0], "a label that is never routed automatically is named"
    assert routing_warnings({"delivery": 0.9, "support": 0.9}, 0.95, 0.8, routing, "held out") == [], "no warning when most tickets are routed"
