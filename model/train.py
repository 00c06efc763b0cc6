"""Training: choose the regularisation by cross-validation, calibrate, pick thresholds, fit.

`train` is what the CLI and the notebook call. Everything it reports is measured on
out-of-fold predictions of the training data, never on tickets the model was fitted on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from model.data import training_rows
from model.decision import DEFAULT_TARGET_PRECISION, choose_thresholds
from model.evaluate import evaluation_report
from model.pipeline import RANDOM_STATE, build_features, build_logistic, build_pipeline
from model.text import TextCleaner

C_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
CV_FOLDS = 5


@dataclass
class TrainResult:
    """A fitted pipeline with its thresholds and the out-of-fold evidence behind them."""

    pipeline: Pipeline
    labels: list[str]
    thresholds: dict[str, float]
    target_precision: float
    params: dict[str, Any]
    report: dict[str, Any]
    oof_proba: np.ndarray
    tickets: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def train(
    tickets: pd.DataFrame,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    c_grid: Sequence[float] = C_GRID,
    folds: int = CV_FOLDS,
) -> TrainResult:
    """Fit a model on loaded tickets (see `model.data.load_tickets`)."""
    started = time.perf_counter()
    rows, warnings = training_rows(tickets)
    texts, y = rows["text"].tolist(), rows["label"].to_numpy()
    labels = sorted(set(y))
    n_folds = int(min(folds, pd.Series(y).value_counts().min()))
    splits = list(StratifiedKFold(n_folds, shuffle=True, random_state=RANDOM_STATE).split(texts, y))

    cleaned = TextCleaner().transform(texts)
    # One fold at a time, every C on its features: only one fold's matrices are ever in memory.
    search = {C: np.zeros((len(y), len(labels))) for C in c_grid}
    for train_idx, test_idx in splits:
        features = build_features()
        x_train = features.fit_transform([cleaned[i] for i in train_idx])
        x_test = features.transform([cleaned[i] for i in test_idx])
        for C in c_grid:
            search[C][test_idx] = _fold_logits(C, x_train, y[train_idx], x_test, labels)
    calibrated = {C: _temperature_scaled(logits, y, labels) for C, logits in search.items()}
    losses = {C: _log_loss(proba, y, labels) for C, (proba, _) in calibrated.items()}
    best_c = min(losses, key=lambda c: (round(losses[c], 4), c))
    oof_proba, temperature = calibrated[best_c]

    thresholds = choose_thresholds(oof_proba, y, labels, target_precision)
    report = evaluation_report(y, oof_proba, labels, thresholds, rows["language"].tolist())
    pipeline = build_pipeline(C=best_c, calibration_folds=n_folds).fit(texts, y)
    _drop_stop_words(pipeline)
    params = {
        "C": best_c,
        "cv_folds": n_folds,
        "cv_log_loss_by_C": {str(c): round(v, 5) for c, v in losses.items()},
        "oof_temperature": round(temperature, 4),
    }
    return TrainResult(
        pipeline=pipeline, labels=labels, thresholds=thresholds, target_precision=target_precision,
        params=params, report=report, oof_proba=oof_proba, tickets=rows, warnings=warnings,
        seconds=time.perf_counter() - started,
    )


def _drop_stop_words(pipeline: Pipeline) -> None:
    """Forget the terms the vectorizers cut by document frequency: kept only for introspection,
    they would make up most of the saved file."""
    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        if hasattr(vectorizer, "stop_words_"):
            delattr(vectorizer, "stop_words_")


def _fold_logits(C: float, x_train: Any, y_train: np.ndarray, x_test: Any, labels: list[str]) -> np.ndarray:
    """Decision scores of one fold's held-out tickets from a regression fitted on the rest."""
    model: LogisticRegression = build_logistic(C).fit(x_train, y_train)
    scores = model.decision_function(x_test)
    if scores.ndim == 1:  # binary: one score towards classes_[1]
        scores = np.column_stack([np.zeros_like(scores), scores])
    logits = np.zeros((x_test.shape[0], len(labels)))
    logits[:, [labels.index(c) for c in model.classes_]] = scores
    return logits


def _temperature_scaled(logits: np.ndarray, y: np.ndarray, labels: list[str]) -> tuple[np.ndarray, float]:
    """Probabilities from logits divided by the temperature that minimises log-loss."""
    idx = np.searchsorted(labels, y)

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(y)), idx].mean())

    log_t = minimize_scalar(nll, bounds=(-5, 5), method="bounded").x
    return softmax(logits / np.exp(log_t), axis=1), float(np.exp(log_t))


def _log_loss(proba: np.ndarray, y: np.ndarray, labels: list[str]) -> float:
    idx = np.searchsorted(labels, y)
    return float(-np.log(np.clip(proba[np.arange(len(y)), idx], 1e-15, None)).mean())
