"""Quality report: the default model's cross-validated and independent scores, and what each
part of the pipeline adds (ablations by 5-fold cross-validation on the training data only).

Run: `python -m bench.quality` (prints JSON; docs/MODEL.md quotes it).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from model.data import load_tickets
from model.evaluate import evaluation_report, routing_at_targets
from model.pipeline import DEFAULT_C, RANDOM_STATE, build_features
from model.predictor import TriageModel
from model.registry import save_model
from model.text import TextCleaner
from model.train import train

ROOT = Path(__file__).resolve().parent.parent
TICKETS = ROOT / "data" / "tickets.csv"
INDEPENDENT = ROOT / "data" / "eval" / "independent.csv"
EDGE_CASES = ROOT / "data" / "eval" / "edge-cases.csv"


def _variant(features: Any, clean: bool) -> Pipeline:
    steps = [("clean", TextCleaner())] if clean else []
    logistic = LogisticRegression(C=DEFAULT_C, class_weight="balanced", max_iter=2000)
    return Pipeline([*steps, ("features", features), ("classifier", logistic)])


def ablations() -> dict[str, float]:
    """Out-of-fold macro-F1 of pipeline variants on the training data."""
    rows = load_tickets([TICKETS])
    x, y = rows["text"].tolist(), rows["label"].to_numpy()
    full = build_features()
    word, char = dict(full.transformer_list)["word"], dict(full.transformer_list)["char"]
    variants = {
        "word + char n-grams, cleaned (default)": _variant(full, True),
        "word n-grams only, cleaned": _variant(FeatureUnion([("word", clone(word))]), True),
        "char n-grams only, cleaned": _variant(FeatureUnion([("char", clone(char))]), True),
        "word + char n-grams, raw text (no cleaning)": _variant(clone(full), False),
        "word unigrams only, raw text (a plain baseline)": _variant(TfidfVectorizer(), False),
    }
    folds = StratifiedKFold(5, shuffle=True, random_state=RANDOM_STATE)
    out = {}
    for name, pipeline in variants.items():
        predicted = cross_val_predict(pipeline, x, y, cv=folds)
        out[name] = round(float(f1_score(y, predicted, average="macro")), 4)
    return out


def default_model() -> dict[str, Any]:
    """Train as `triage train --data data/tickets.csv` does; score out-of-fold (situations held
    out, and familiar ones) and on both sets written apart from the training data, each with its
    hard tickets and what each target precision costs there."""
    started = time.perf_counter()
    result = train(load_tickets([TICKETS]))
    seconds = round(time.perf_counter() - started, 1)
    sets: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        save_model(result, Path(tmp) / "m", [TICKETS])
        model = TriageModel.load(Path(tmp) / "m")
        for path in (INDEPENDENT, EDGE_CASES):
            rows = load_tickets([path])
            y, proba = rows["label"].to_numpy(), model.predict_proba(rows["text"].tolist())
            hard = (rows["difficulty"] == "hard").to_numpy()
            sets[path.name] = {
                "all": evaluation_report(y, proba, model.labels, model.thresholds, rows["language"].tolist()),
                "hard": evaluation_report(y[hard], proba[hard], model.labels, model.thresholds),
                "normal": evaluation_report(y[~hard], proba[~hard], model.labels, model.thresholds),
                "routing_by_target": routing_at_targets(result.oof_proba, result.tickets["label"].to_numpy(), result.labels,
                                                        {path.name: (y, proba)}),
            }
    y_cv = result.tickets["label"].to_numpy()
    hard_cv = (result.tickets["difficulty"] == "hard").to_numpy()
    return {"train_seconds": seconds, "params": result.params, "thresholds": result.thresholds,
            "held_out_situations": result.report, "familiar_situations": result.familiar_report,
            "held_out_hard": evaluation_report(y_cv[hard_cv], result.oof_proba[hard_cv], result.labels, result.thresholds),
            "routing_by_target": result.routing, "advice": result.advice, **sets}


if __name__ == "__main__":
    report = {"default": default_model(), "ablations_oof_macro_f1": ablations()}
    json.dump(report, sys.stdout, indent=2, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o))
    print()
