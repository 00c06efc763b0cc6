"""From probabilities to a route: a label when its confidence clears the label's threshold, else review."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

REVIEW = "review"
DEFAULT_TARGET_PRECISION = 0.95
NEVER = 1.0 + 1e-9  # threshold of a label that never reaches the target precision: always review
# A ticket the model itself gives a one-in-five chance of being wrong goes to a person, however
# well the tickets above it do together: aggregate precision must not buy near-coin-flips.
MIN_AUTO_CONFIDENCE = 0.8
# The target must hold for the lower end of a one-sided 95% interval of the measured precision,
# not just its point estimate, so a lucky small sample does not set a low threshold.
PRECISION_BOUND_Z = 1.645


def wilson_interval(correct: ArrayLike, n: ArrayLike, z: float = PRECISION_BOUND_Z) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper end of the Wilson score interval of a proportion correct/n (n >= 1).

    `z` sets the confidence: the default 1.645 makes each end a one-sided 95% bound; 1.96 makes
    the pair a two-sided 95% interval.
    """
    correct, n = np.asarray(correct, dtype=float), np.asarray(n, dtype=float)
    p = correct / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    # Rounding can carry an end a hair past 0 or 1 when every ticket (or none) was right.
    return np.clip((centre - margin) / scale, 0.0, 1.0), np.clip((centre + margin) / scale, 0.0, 1.0)


def wilson_lower_bound(correct: ArrayLike, n: ArrayLike, z: float = PRECISION_BOUND_Z) -> np.ndarray:
    """Lower end of the Wilson score interval of a proportion correct/n."""
    return wilson_interval(correct, n, z)[0]


def choose_thresholds(
    proba: np.ndarray,
    y_true: Sequence[str] | np.ndarray,
    labels: Sequence[str],
    target_precision: float = DEFAULT_TARGET_PRECISION,
    min_confidence: float = MIN_AUTO_CONFIDENCE,
) -> dict[str, float]:
    """Per label, the lowest confidence at which tickets predicted as that label are still
    correct at least `target_precision` of the time (on out-of-fold predictions).

    Tickets are ranked by confidence; the threshold is the confidence of the last ticket at
    which the lower confidence bound of the running precision still meets the target, and
    never below `min_confidence`.
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
        running = wilson_lower_bound(np.cumsum(correct), np.arange(1, len(correct) + 1))
        # Ties: a threshold admits every ticket with that confidence, so judge at the last of each tie.
        last_of_tie = np.r_[conf[1:] != conf[:-1], True] if len(conf) else np.array([], bool)
        ok = np.flatnonzero((running >= target_precision) & last_of_tie)
        thresholds[label] = max(float(conf[ok[-1]]), min_confidence) if len(ok) else NEVER
    return thresholds


def route(proba: np.ndarray, labels: Sequence[str], thresholds: Mapping[str, float]) -> tuple[list[str], list[str], np.ndarray]:
    """Routes, most probable labels and confidences for rows of probabilities."""
    best = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), best]
    label = [labels[i] for i in best]
    routes = [lab if c >= thresholds[lab] else REVIEW for lab, c in zip(label, confidence)]
    return routes, label, confidence
