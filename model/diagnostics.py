"""What a person looks at to judge a trained model: metric tables, calibration, precision against
coverage, the terms that weigh most, and the training tickets whose label the model doubts.

Everything about training data is computed from out-of-fold probabilities (`TrainResult.oof_proba`):
each ticket's probability comes from a model that never saw it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from model.decision import REVIEW, route
from model.evaluate import CALIBRATION_BINS, reliability, weighted_gap
from model.explain import Explainer

TOP_TERMS = 15
MISLABELLED_SHOWN = 20
_EXCERPT_CHARS = 300


def overall_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """The headline figures of an evaluation report, one row."""
    keys = ("n", "accuracy", "macro_f1", "log_loss", "auto_routed_share", "auto_routed_precision")
    return pd.DataFrame([{k: report.get(k) for k in keys}])


def per_class_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """Precision, recall, F1 and support per label."""
    return pd.DataFrame(report["per_class"]).T.rename_axis("label")


def per_language_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """Tickets, macro-F1 and routing figures per language (languages with tickets only)."""
    rows = {lang: {k: s.get(k) for k in ("n", "accuracy", "macro_f1", "auto_routed_share", "auto_routed_precision")}
            for lang, s in report.get("per_language", {}).items() if s.get("n")}
    return pd.DataFrame(rows).T.rename_axis("language")


def reliability_curve(y_true: Sequence[str] | np.ndarray, proba: np.ndarray, labels: Sequence[str], bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """`model.evaluate.reliability` as a table: a calibrated model has accuracy close to mean
    confidence in every bin."""
    return pd.DataFrame(reliability(y_true, proba, labels, bins), columns=["bin_low", "bin_high", "mean_confidence", "accuracy", "n"])


def expected_calibration_error(curve: pd.DataFrame) -> float:
    """Ticket-weighted mean gap between confidence and accuracy over a reliability curve."""
    return weighted_gap(curve.to_dict("records"))


def precision_coverage(y_true: Sequence[str] | np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Per label, for every candidate threshold: the share of all tickets that would be auto-routed
    to that label (coverage) and the precision on them. Rows: label, threshold, coverage, precision."""
    y = np.asarray(y_true)
    predicted = np.asarray(labels)[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    parts = []
    for label in labels:
        mine = predicted == label
        order = np.argsort(-confidence[mine], kind="stable")
        conf = confidence[mine][order]
        correct = (y[mine][order] == label).astype(float)
        n = np.arange(1, len(conf) + 1)
        # A threshold admits every ticket of a tie, so each point is the last ticket of its tie.
        last = np.r_[conf[1:] != conf[:-1], True] if len(conf) else np.array([], bool)
        parts.append(pd.DataFrame({
            "label": label, "threshold": conf[last], "coverage": (n / len(y))[last], "precision": (np.cumsum(correct) / n)[last],
        }))
    return pd.concat(parts, ignore_index=True)


def at_thresholds(curve: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """The point of each label's precision-coverage curve its chosen threshold gives (none: no
    ticket clears it, so the label is never auto-routed)."""
    rows = []
    for label, t in thresholds.items():
        admitted = curve[(curve["label"] == label) & (curve["threshold"] >= t)]
        point = admitted.loc[admitted["threshold"].idxmin()] if len(admitted) else None
        rows.append({"label": label, "threshold": t, "coverage": 0.0 if point is None else float(point["coverage"]),
                     "precision": None if point is None else float(point["precision"])})
    return pd.DataFrame(rows, columns=["label", "threshold", "coverage", "precision"])


def routing_shares(proba: np.ndarray, labels: Sequence[str], thresholds: Mapping[str, float]) -> pd.Series:
    """Share of tickets each route would get: every label, and review."""
    routes, _, _ = route(proba, labels, thresholds)
    shares = pd.Series(routes).value_counts(normalize=True)
    return shares.reindex([*labels, REVIEW], fill_value=0.0).rename("share")


def top_terms(pipeline: Pipeline, k: int = TOP_TERMS, include_char_ngrams: bool = False) -> pd.DataFrame:
    """The features that push hardest towards each label in the fitted regression.

    Word features read as words and phrases; character n-grams (off by default) are fragments
    that only make sense inside words. Rows: label, term, weight, kind.
    """
    explainer = Explainer(pipeline)
    kinds = np.where(np.arange(len(explainer.names)) < explainer.n_word, "word", "char")
    allowed = np.ones(len(kinds), bool) if include_char_ngrams else kinds == "word"
    rows = []
    for c, label in enumerate(explainer.labels):
        push = np.where(allowed, explainer.push[c], -np.inf)
        for j in np.argsort(-push, kind="stable")[:k]:
            if push[j] > 0:
                rows.append({"label": label, "term": str(explainer.names[j]), "weight": float(push[j]), "kind": str(kinds[j])})
    return pd.DataFrame(rows, columns=["label", "term", "weight", "kind"])


def likely_mislabelled(tickets: pd.DataFrame, oof_proba: np.ndarray, labels: Sequence[str], n: int = MISLABELLED_SHOWN) -> pd.DataFrame:
    """The training tickets whose given label got the lowest out-of-fold probability, lowest first.

    `tickets` and `oof_proba` are `TrainResult.tickets` and `TrainResult.oof_proba` (same rows).
    These are the ones to check against the labelling policy: a mistake, or a hard case.
    """
    if len(tickets) != len(oof_proba):
        raise ValueError(f"{len(tickets)} tickets but {len(oof_proba)} rows of probabilities; pass TrainResult.tickets with its oof_proba")
    column = {lab: i for i, lab in enumerate(labels)}
    given = np.array([oof_proba[i, column[lab]] for i, lab in enumerate(tickets["label"])])
    frame = pd.DataFrame({
        "id": tickets["id"].to_numpy(),
        "label": tickets["label"].to_numpy(),
        "p_label": given,
        "model_says": np.asarray(labels)[oof_proba.argmax(axis=1)],
        "language": tickets["language"].to_numpy(),
        "origin": tickets["origin"].to_numpy() if "origin" in tickets else tickets["source"].to_numpy(),
        "difficulty": tickets["difficulty"].to_numpy() if "difficulty" in tickets else "",
        "text": [" ".join(str(t).split())[:_EXCERPT_CHARS] for t in tickets["text"]],
    })
    return frame.sort_values("p_label", kind="stable").head(n).reset_index(drop=True)


def routing_table(routing: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """What each target precision costs (`model.evaluate.routing_at_targets`): one row per target,
    the share auto-routed and the precision on them for each set of predictions."""
    names = [k for k in routing[0] if k not in ("target", "thresholds")] if routing else []
    rows = {f"{r['target']:.2f}": {(name, what): r[name][key] for name in names
                                   for what, key in (("auto-routed", "auto_routed_share"), ("precision", "auto_routed_precision"))}
            for r in routing}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "target precision"
    return table


def advice_text(advice: Sequence[str]) -> str:
    """Training's warnings about what the chosen target costs, as Markdown (empty when there are none)."""
    return "\n\n".join(f"**Warning:** {a}" for a in advice)
