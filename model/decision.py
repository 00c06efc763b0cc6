"""From probabilities to a route: a label when its confidence clears the label's threshold, else review."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

REVIEW = "review"
DEFAULT_TARGET_PRECISION = 0.95
NEVER = 1.0 + 1e-9  # threshold of a label that never reaches the target precision: always review


def choose_thresholds(
    proba: np.ndarray, y_true: Sequence[str], labels: Sequence[str], target_precision: float = DEFAULT_TARGET_PRECISION
) -> dict[str, float]:
    """Per label, the lowest confidence at which tickets predicted as that label are still
    correct at least `target_precision` of the time (on out-of-fold predictions).

    Tickets are ranked by confidence; the threshold is the confidence of the last ticket at
    which the running precision still meets the target, so auto-routing covers as many
    tickets as the target allows.
    """
    if not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target precision must be in (0, 1], got {target_precision}")
    y = np.asarray(y_true)
    predicted = np.asarray(labels)[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    thresholds: dict[str, float] = {}
    for label in labels:
        mine = predicted == label
        order = np.argsort(-confidence[mine], kind="stable")
        conf = confidence[mine][order]
        correct = (y[mine][order] == label).astype(float)
        running = np.cumsum(correct) / np.arange(1, len(correct) + 1)
        # Ties: a threshold admits every ticket with that confidence, so judge at the last of each tie.
        last_of_tie = np.r_[conf[1:] != conf[:-1], True] if len(conf) else np.array([], bool)
        ok = np.flatnonzero((running >= target_precision) & last_of_tie)
        thresholds[label] = float(conf[ok[-1]]) if len(ok) else NEVER
    return thresholds


def route(proba: np.ndarray, labels: Sequence[str], thresholds: Mapping[str, float]) -> tuple[list[str], list[str], np.ndarray]:
    """Routes, most probable labels and confidences for rows of probabilities."""
    best = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), best]
    label = [labels[i] for i in best]
    routes = [lab if c >= thresholds[lab] else REVIEW for lab, c in zip(label, confidence)]
    return routes, label, confidence
