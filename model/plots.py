"""Matplotlib figures of the retraining notebook, drawn from `model.diagnostics` and `model.compare` data.

Figures are built with the object-oriented API (no pyplot state), so a notebook shows each one
exactly once, as the value of its cell, and nothing leaks between cells or tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from model.compare import CANDIDATE, IN_SERVICE, Comparison

_WIDTH = 10.0
_LABEL_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def confusion_matrix(report: Mapping[str, Any], title: str = "Confusion matrix") -> Figure:
    """Counts of true (rows) against predicted (columns) labels, with each cell's count written in."""
    cm = report["confusion_matrix"]
    labels, matrix = cm["labels"], np.asarray(cm["matrix"])
    fig = Figure(figsize=(4.5, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(labels)), xticklabels=labels, yticks=range(len(labels)), yticklabels=labels,
           xlabel="predicted", ylabel="true", title=title)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
    return fig


def scores_by_class_and_language(report: Mapping[str, Any]) -> Figure:
    """Precision, recall and F1 per label beside macro-F1 and auto-routed share per language."""
    fig = Figure(figsize=(_WIDTH, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    per_class = pd.DataFrame(report["per_class"]).T[["precision", "recall", "f1"]]
    per_class.plot.bar(ax=left, rot=0, ylim=(0, 1.15), title="per label")
    languages = {lang: s for lang, s in report.get("per_language", {}).items() if s.get("n")}
    per_lang = pd.DataFrame({lang: {"macro-F1": s["macro_f1"], "auto-routed share": s["auto_routed_share"]} for lang, s in languages.items()}).T
    per_lang.plot.bar(ax=right, rot=0, ylim=(0, 1.15), title="per language")
    right.set_xticks(range(len(languages)), [f"{lang}\n(n={s['n']})" for lang, s in languages.items()])
    for ax in (left, right):
        ax.legend(loc="upper center", ncols=3, fontsize="small")
    return fig


def reliability(curve: pd.DataFrame, ece: float | None = None) -> Figure:
    """Accuracy against confidence per bin; points on the diagonal mean honest probabilities."""
    fig = Figure(figsize=(5.0, 4.5), layout="constrained")
    ax = fig.subplots()
    low = float(curve["bin_low"].min()) if len(curve) else 0.0
    ax.plot([low, 1], [low, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(curve["mean_confidence"], curve["accuracy"], marker="o", label="model (out-of-fold)")
    for row in curve.itertuples():
        ax.annotate(str(row.n), (row.mean_confidence, row.accuracy), textcoords="offset points", xytext=(4, -10), fontsize="x-small")
    title = "Reliability of the top label" + ("" if ece is None else f" (ECE {ece:.3f})")
    bottom = min(low, float(curve["accuracy"].min()) if len(curve) else low) - 0.05
    ax.set(xlabel="confidence of the most probable label", ylabel="share correct", title=title, xlim=(low, 1.0), ylim=(bottom, 1.02))
    ax.legend(loc="upper left", fontsize="small")
    return fig


def precision_coverage(curve: pd.DataFrame, chosen: pd.DataFrame, target_precision: float) -> Figure:
    """Per label, precision against the share of all tickets auto-routed to it, with the chosen thresholds marked."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for k, (colour, (label, part)) in enumerate(zip(_LABEL_COLOURS, curve.groupby("label", sort=False))):
        ax.plot(part["coverage"], part["precision"], color=colour, label=label)
        point = chosen[chosen["label"] == label]
        if len(point) and point["precision"].notna().all():
            ax.scatter(point["coverage"], point["precision"], color=colour, s=60, zorder=3, edgecolor="black")
            ax.annotate(f"{label} >= {float(point['threshold'].iloc[0]):.2f}", (float(point["coverage"].iloc[0]), float(point["precision"].iloc[0])),
                        textcoords="offset points", xytext=(-40, 10 + 14 * k), fontsize="small", color=colour)
    ax.axhline(target_precision, color="grey", linestyle="--", label=f"target {target_precision:.2f}")
    ax.set(xlabel="share of all tickets auto-routed to the label", ylabel="precision", title="Precision against coverage (out-of-fold)",
           ylim=(max(0.0, float(curve["precision"].min()) - 0.05) if len(curve) else 0.0, 1.01))
    ax.legend(loc="lower left", fontsize="small")
    return fig


def top_terms(terms: pd.DataFrame) -> Figure:
    """Horizontal bars of the strongest terms of each label, strongest on top."""
    labels = list(dict.fromkeys(terms["label"]))
    fig = Figure(figsize=(_WIDTH, 0.28 * max(5, terms.groupby("label").size().max()) + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(labels))))
    for ax, colour, label in zip(axes, _LABEL_COLOURS, labels):
        part = terms[terms["label"] == label].iloc[::-1]
        ax.barh(part["term"], part["weight"], color=colour)
        ax.set(title=f"towards {label}", xlabel="weight in the regression")
        ax.tick_params(axis="y", labelsize="small")
    return fig


def comparison(result: Comparison) -> Figure:
    """The candidate's headline figures beside the current model's, on the same held-out tickets."""
    table = result.table()
    metrics = [m for m in ("accuracy", "macro-F1", "auto-routed share", "auto-routed precision") if m in table.index]
    values = table.loc[metrics].apply(pd.to_numeric, errors="coerce")
    fig = Figure(figsize=(_WIDTH, 3.8), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(values.columns)
    for k, column in enumerate(values.columns):
        name = f"{column} ({table.at['version', column]})"
        bars = ax.bar(np.arange(len(metrics)) + (k - (len(values.columns) - 1) / 2) * width, values[column].fillna(0), width, label=name)
        ax.bar_label(bars, fmt="%.3f", fontsize="small")
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set(ylim=(0, 1.25), title=f"Held-out tickets: {CANDIDATE} vs {IN_SERVICE} - verdict: {result.verdict.decision}")
    ax.legend(loc="upper center", ncols=2, fontsize="small")
    return fig
