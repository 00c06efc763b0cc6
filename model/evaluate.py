"""Metrics of a model's probabilities against true labels: overall, per class, per language, routing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss, precision_recall_fscore_support

from model.decision import REVIEW, route


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
        out["confusion_matrix"] = {
            "labels": labels,
            "matrix": confusion_matrix(y, predicted_a, labels=labels).tolist(),
        }
    return out


def format_report(report: Mapping[str, Any], title: str = "Evaluation") -> str:
    """A short plain-text summary of an evaluation report for the terminal."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1%}"

    lines = [
        f"{title}: {report['n']} tickets",
        f"  accuracy {report['accuracy']:.3f}   macro-F1 {report['macro_f1']:.3f}"
        + (f"   log-loss {report['log_loss']:.3f}" if report.get("log_loss") is not None else ""),
        f"  auto-routed {pct(report['auto_routed_share'])} of tickets, precision on them {pct(report['auto_routed_precision'])}",
        "  per class:          precision  recall   F1     n",
    ]
    for lab, s in report["per_class"].items():
        lines.append(f"    {lab:<18} {s['precision']:.3f}     {s['recall']:.3f}   {s['f1']:.3f}  {s['support']}")
    if "per_language" in report:
        lines.append("  per language:       macro-F1  auto-routed  precision(auto)  n")
        for lang, s in report["per_language"].items():
            if s["n"]:
                lines.append(f"    {lang:<18} {s['macro_f1']:.3f}     {pct(s['auto_routed_share']):>7}      {pct(s['auto_routed_precision']):>7}      {s['n']}")
    cm = report.get("confusion_matrix")
    if cm:
        labels = cm["labels"]
        lines.append("  confusion matrix (rows true, columns predicted): " + " ".join(labels))
        for lab, row in zip(labels, cm["matrix"]):
            lines.append(f"    {lab:<18} " + " ".join(f"{v:>6}" for v in row))
    return "\n".join(lines)
