"""Metrics of a model's probabilities against true labels: overall, per class, per language, routing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss, precision_recall_fscore_support

from model.decision import NEVER, REVIEW, choose_thresholds, route

CALIBRATION_BINS = 10
# The precision targets every report shows side by side, so that what a target costs in review is visible.
PROMISE_TARGETS = (0.90, 0.95, 0.98)
# Below this share routed automatically, training says in words what the target costs.
LOW_AUTO_SHARE = 0.5
# Labelled tickets per label from which most tickets are routed automatically at the default
# target, on the learning curve of the shipped data (`python -m bench.learning_curve`, docs/MODEL.md).
TICKETS_PER_LABEL_ENOUGH = 1500


def evaluation_report(
    y_true: Sequence[str],
    proba: np.ndarray,
    labels: Sequence[str],
    thresholds: Mapping[str, float],
    languages: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class and per-language scores, confusion matrix and routing figures."""
    report = _scores(np.asarray(y_true), proba, list(labels), thresholds)
    if languages is not None:
        langs = np.asarray(languages)
        report["per_language"] = {
            lang: _scores(np.asarray(y_true)[langs == lang], proba[langs == lang], list(labels), thresholds, brief=True)
            for lang in sorted(set(langs))
        }
    return report


def _scores(y: np.ndarray, proba: np.ndarray, labels: list[str], thresholds: Mapping[str, float], brief: bool = False) -> dict[str, Any]:
    if len(y) == 0:
        return {"n": 0}
    routes, predicted, _ = route(proba, labels, thresholds)
    routes_a, predicted_a = np.asarray(routes), np.asarray(predicted)
    auto = routes_a != REVIEW
    p, r, f, support = precision_recall_fscore_support(y, predicted_a, labels=labels, zero_division=0)
    out: dict[str, Any] = {
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, predicted_a)),
        "macro_f1": float(f1_score(y, predicted_a, labels=labels, average="macro", zero_division=0)),
        "auto_routed_share": float(auto.mean()),
        "auto_routed_precision": float((routes_a[auto] == y[auto]).mean()) if auto.any() else None,
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
            for i, lab in enumerate(labels)
        },
    }
    if not brief:
        known = np.isin(y, labels)
        out["log_loss"] = float(log_loss(y[known], proba[known], labels=labels)) if known.all() else None
        out["calibration_error"] = calibration_error(y, proba, labels)
        out["confusion_matrix"] = {
            "labels": labels,
            "matrix": confusion_matrix(y, predicted_a, labels=labels).tolist(),
        }
    return out


def reliability(y_true: Sequence[str] | np.ndarray, proba: np.ndarray, labels: Sequence[str],
                bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Accuracy of the most probable label against its stated confidence, in equal-width bins
    over [1/k, 1] (the top label's confidence is never below 1/k for k labels); empty bins left out."""
    confidence = proba.max(axis=1)
    correct = np.asarray(labels)[proba.argmax(axis=1)] == np.asarray(y_true)
    edges = np.linspace(1.0 / len(labels), 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        {"bin_low": float(edges[b]), "bin_high": float(edges[b + 1]), "mean_confidence": float(confidence[which == b].mean()),
         "accuracy": float(correct[which == b].mean()), "n": int((which == b).sum())}
        for b in range(bins) if (which == b).any()
    ]


def weighted_gap(bins: Sequence[Mapping[str, float]]) -> float:
    """Expected calibration error of `reliability` bins: the ticket-weighted mean gap between
    confidence and accuracy (nan without tickets)."""
    total = sum(b["n"] for b in bins)
    return float(sum(b["n"] * abs(b["accuracy"] - b["mean_confidence"]) for b in bins) / total) if total else float("nan")


def calibration_error(y_true: Sequence[str] | np.ndarray, proba: np.ndarray, labels: Sequence[str], bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error of the most probable label (see `reliability`)."""
    return weighted_gap(reliability(y_true, proba, labels, bins))


def routing_at_targets(
    oof_proba: np.ndarray,
    oof_y: Sequence[str] | np.ndarray,
    labels: Sequence[str],
    evaluated: Mapping[str, tuple[Sequence[str] | np.ndarray, np.ndarray]],
    targets: Sequence[float] = PROMISE_TARGETS,
) -> list[dict[str, Any]]:
    """What each target precision costs: thresholds chosen on the out-of-fold predictions for the
    target, then, per evaluated set (name -> true labels, probabilities), the share routed
    automatically and the precision on those tickets."""
    rows = []
    for target in targets:
        thresholds = choose_thresholds(oof_proba, oof_y, labels, target)
        row: dict[str, Any] = {"target": target, "thresholds": thresholds}
        for name, (y, proba) in evaluated.items():
            routes, _, _ = route(proba, labels, thresholds)
            auto = np.asarray(routes) != REVIEW
            correct = np.asarray(routes)[auto] == np.asarray(y)[auto]
            row[name] = {"auto_routed_share": float(auto.mean()) if len(auto) else 0.0,
                         "auto_routed_precision": float(correct.mean()) if auto.any() else None}
        rows.append(row)
    return rows


def routing_warnings(thresholds: Mapping[str, float], target: float, auto_share: float,
                     routing: Sequence[Mapping[str, Any]], measured_on: str) -> list[str]:
    """Plain words for a target that routes little or nothing automatically, with the options."""
    warnings = [f"label '{label}' never reaches precision {target} with enough evidence: every ticket predicted as it goes to review"
                for label, t in thresholds.items() if t >= NEVER]
    if auto_share < LOW_AUTO_SHARE:
        lower = [f"{r['target']:.2f} routes {_pct(r[measured_on]['auto_routed_share'])}" for r in routing if r["target"] < target]
        warnings.append(
            f"at target precision {target} only {_pct(auto_share)} of tickets are routed automatically ({measured_on}); "
            "the rest go to review. Options: label more tickets (on the shipped data's learning curve about "
            f"{TICKETS_PER_LABEL_ENOUGH:,} per label route four tickets in five, 200 per label one in five: docs/MODEL.md), "
            + (f"lower the target ({'; '.join(lower)}), " if lower else "lower the target, ")
            + "or keep it and let agents review these tickets."
        )
    return warnings


def format_routing_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of `routing_at_targets` as a plain-text table: per target, auto-routed share and precision per set."""
    names = [k for k in rows[0] if k not in ("target", "thresholds")] if rows else []
    lines = ["  target   " + "".join(f"{name[:28]:>30}" for name in names),
             "           " + "".join(f"{'auto-routed  precision':>30}" for _ in names)]
    for row in rows:
        cells = "".join(f"{_pct(row[n]['auto_routed_share']):>19}  {_pct(row[n]['auto_routed_precision']):>9}" for n in names)
        lines.append(f"  {row['target']:.2f}     {cells}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def format_report(report: Mapping[str, Any], title: str = "Evaluation") -> str:
    """A short plain-text summary of an evaluation report for the terminal."""

    lines = [
        f"{title}: {report['n']} tickets",
        f"  accuracy {report['accuracy']:.3f}   macro-F1 {report['macro_f1']:.3f}"
        + (f"   log-loss {report['log_loss']:.3f}" if report.get("log_loss") is not None else "")
        + (f"   calibration error {report['calibration_error']:.3f}" if report.get("calibration_error") is not None else ""),
        f"  auto-routed {_pct(report['auto_routed_share'])} of tickets, precision on them {_pct(report['auto_routed_precision'])}",
        "  per class:          precision  recall   F1     n",
    ]
    for lab, s in report["per_class"].items():
        lines.append(f"    {lab:<18} {s['precision']:.3f}     {s['recall']:.3f}   {s['f1']:.3f}  {s['support']}")
    if "per_language" in report:
        lines.append("  per language:       macro-F1  auto-routed  precision(auto)  n")
        for lang, s in report["per_language"].items():
            if s["n"]:
                auto, precision = _pct(s["auto_routed_share"]), _pct(s["auto_routed_precision"])
                lines.append(f"    {lang:<18} {s['macro_f1']:.3f}     {auto:>7}      {precision:>7}      {s['n']}")
    cm = report.get("confusion_matrix")
    if cm:
        labels = cm["labels"]
        lines.append("  confusion matrix (rows true, columns predicted): " + " ".join(labels))
        for lab, row in zip(labels, cm["matrix"]):
            lines.append(f"    {lab:<18} " + " ".join(f"{v:>6}" for v in row))
    return "\n".join(lines)
