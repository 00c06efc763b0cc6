"""Training: choose the regularisation by cross-validation, calibrate, pick thresholds, fit.

`train` is what the CLI and the notebook call. Everything it reports is measured on
out-of-fold predictions of the training data, never on tickets the model was fitted on.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from model.data import training_rows
from model.decision import DEFAULT_TARGET_PRECISION, choose_thresholds
from model.evaluate import evaluation_report, routing_at_targets, routing_warnings
from model.folds import FoldFeatures
from model.pipeline import RANDOM_STATE, CountedTexts, build_features, build_logistic, calibrated_classifier, count_ngrams
from model.situations import held_out_situation_splits, situation_groups
from model.text import TextCleaner

C_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
CV_FOLDS = 5
# Folds of the held-out-situation cross-validation: each holds out a tenth of the situations, so
# a ticket is scored by a model that knows nine tenths of the others, as close to "one new
# situation among known ones" as the cost of ten fits allows.
HELD_OUT_FOLDS = 10
HELD_OUT = "held-out situations"
FAMILIAR = "familiar situations"
CV_SAMPLE = 20_000  # above this many tickets, cross-validation runs on a stratified sample
PARALLEL_FROM = 5_000  # from this many cross-validation tickets, regressions are fitted in parallel


@dataclass
class TrainResult:
    """A fitted pipeline with its thresholds and the out-of-fold evidence behind them."""

    pipeline: Pipeline
    labels: list[str]
    thresholds: dict[str, float]
    target_precision: float
    params: dict[str, Any]
    report: dict[str, Any]  # on held-out situations: what the thresholds and the calibration were chosen on
    familiar_report: dict[str, Any]  # ordinary out-of-fold: situations seen in training
    oof_proba: np.ndarray  # held-out-situation probabilities
    familiar_proba: np.ndarray  # ordinary out-of-fold probabilities, with the same temperature
    groups: np.ndarray  # each cross-validated ticket's situation (model.situations)
    routing: list[dict[str, Any]]  # model.evaluate.routing_at_targets on both kinds of out-of-fold predictions
    tickets: pd.DataFrame  # the tickets oof_proba belongs to (the cross-validation sample)
    fitted_tickets: pd.DataFrame  # every ticket the model was fitted on
    warnings: list[str] = field(default_factory=list)  # one per input row left out
    advice: list[str] = field(default_factory=list)  # what the chosen target costs, when it routes little
    seconds: float = 0.0


def train(
    tickets: pd.DataFrame,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    c_grid: Sequence[float] = C_GRID,
    folds: int = CV_FOLDS,
    cv_sample: int = CV_SAMPLE,
    jobs: int | None = None,
) -> TrainResult:
    """Fit a model on loaded tickets (see `model.data.load_tickets`).

    With more than `cv_sample` tickets, the regularisation, the temperature, the thresholds and
    the reported metrics come from cross-validation on a stratified sample of that many; the
    model itself is always fitted on every ticket. `jobs` processes (default: one per CPU)
    fit the cross-validation regressions when there are at least `PARALLEL_FROM` tickets.
    """
    started = time.perf_counter()
    rows, warnings = training_rows(tickets)
    texts, y = rows["text"].tolist(), rows["label"].to_numpy()
    labels = sorted(set(y))
    sample = cross_validation_sample(y, cv_sample, folds)
    y_cv = y[sample]
    n_folds = int(min(folds, pd.Series(y_cv).value_counts().min()))
    splits = list(StratifiedKFold(n_folds, shuffle=True, random_state=RANDOM_STATE).split(sample, y_cv))

    # N-grams are counted once; each fold's features are cut from the counts (model.folds).
    # load_tickets has cleaned every text already (to find the unusable ones); a frame made
    # another way is cleaned here.
    cleaned = rows["cleaned"].tolist() if "cleaned" in rows else TextCleaner().transform(texts)
    counted = count_ngrams(cleaned)
    del cleaned
    fold_features = FoldFeatures(counted)
    scores = _search(fold_features, sample, splits, y_cv, labels, c_grid, jobs)
    losses = {C: _log_loss(_temperature_scaled(_logits(s), y_cv, labels)[0], y_cv, labels) for C, s in scores.items()}
    best_c = min(losses, key=lambda c: (round(losses[c], 4), c))
    cv_rows = rows.iloc[sample].reset_index(drop=True)

    # How sure the model may be, and where it routes by itself, is measured on situations it
    # has not seen (model.situations): the same regression, with whole situations held out.
    scenarios = cv_rows["scenario"].tolist() if "scenario" in cv_rows else [""] * len(cv_rows)
    groups = situation_groups(scenarios, _word_counts(counted)[sample])
    held_splits = held_out_situation_splits(y_cv, groups, int(min(HELD_OUT_FOLDS, pd.Series(y_cv).value_counts().min())))
    held_scores = _search(fold_features, sample, held_splits, y_cv, labels, [best_c], jobs)[best_c]
    del fold_features
    # In service a ticket is about a familiar situation or a new one, so the temperature is fitted
    # on both kinds of out-of-fold scores together; thresholds are then chosen on the new ones.
    pooled_scores, pooled_y = np.vstack([scores[best_c], held_scores]), np.concatenate([y_cv, y_cv])
    _, temperature = _temperature_scaled(_logits(pooled_scores), pooled_y, labels)
    oof_proba = softmax(_logits(held_scores) / temperature, axis=1)
    familiar_proba = softmax(_logits(scores[best_c]) / temperature, axis=1)

    thresholds = choose_thresholds(oof_proba, y_cv, labels, target_precision)
    languages = cv_rows["language"].tolist()
    report = evaluation_report(y_cv, oof_proba, labels, thresholds, languages)
    familiar_report = evaluation_report(y_cv, familiar_proba, labels, thresholds, languages)
    routing = routing_at_targets(oof_proba, y_cv, labels, {HELD_OUT: (y_cv, oof_proba), FAMILIAR: (y_cv, familiar_proba)})
    advice = routing_warnings(thresholds, target_precision, report["auto_routed_share"], routing, HELD_OUT)
    features = build_features()
    x_all = features.fit_transform(counted)
    del counted
    logistic = build_logistic(best_c).fit(x_all, np.searchsorted(labels, y))
    classifier = calibrated_classifier(logistic, pooled_scores, pooled_y, n_folds)
    pipeline = Pipeline([("clean", TextCleaner()), ("features", features), ("classifier", classifier)])
    _drop_stop_words(pipeline)
    params = {
        "C": best_c,
        "cv_folds": n_folds,
        "cv_tickets": len(sample),
        "cv_log_loss_by_C": {str(c): round(v, 5) for c, v in losses.items()},
        "situations": int(len(set(groups))),
        "situations_from_scenario_tags": int(sum(1 for s in scenarios if s.strip())),
        "oof_temperature": round(temperature, 4),
    }
    return TrainResult(
        pipeline=pipeline, labels=labels, thresholds=thresholds, target_precision=target_precision,
        params=params, report=report, familiar_report=familiar_report, routing=routing, oof_proba=oof_proba, familiar_proba=familiar_proba,
        groups=groups, tickets=cv_rows, fitted_tickets=rows, warnings=warnings, advice=advice,
        seconds=time.perf_counter() - started,
    )


def _search(fold_features: FoldFeatures, sample: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]],
            y_cv: np.ndarray, labels: list[str], c_grid: Sequence[float], jobs: int | None) -> dict[float, np.ndarray]:
    """Out-of-fold decision scores of the sample's tickets for every C of the grid.

    Each fold's features are built once; its regressions (one per C) run in `jobs` worker
    processes, which read the fold's matrices from a file mapped into memory rather than
    receiving a copy each. They run in single precision, about twice as fast as double: their
    scores only choose C and the temperature (the served regression is fitted in double).
    """

    def fold(train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[Any, Any]:
        x_train, x_test = fold_features.fold(sample[train_idx], sample[test_idx])
        return x_train.astype(np.float32), x_test.astype(np.float32)

    width = len(labels) if len(labels) > 2 else 1
    scores = {C: np.zeros((len(sample), width)) for C in c_grid}
    workers = joblib.cpu_count() if jobs is None else jobs
    if workers <= 1 or len(sample) < PARALLEL_FROM:
        for train_idx, test_idx in splits:
            x_train, x_test = fold(train_idx, test_idx)
            for C in c_grid:
                scores[C][test_idx] = _fold_scores(C, x_train, y_cv[train_idx], x_test, labels)
        return scores

    with tempfile.TemporaryDirectory(prefix="triage-folds-") as tmp:
        def tasks() -> Iterator[Any]:
            for k, (train_idx, test_idx) in enumerate(splits):
                path = Path(tmp) / f"fold-{k}.joblib"
                joblib.dump(fold(train_idx, test_idx), path)
                for C in c_grid:
                    yield joblib.delayed(_fold_scores_from_file)(C, path, y_cv[train_idx], labels)

        results = joblib.Parallel(n_jobs=workers, pre_dispatch="n_jobs")(tasks())
    for k, (_, test_idx) in enumerate(splits):  # results come in the order of the tasks
        for j, C in enumerate(c_grid):
            scores[C][test_idx] = results[k * len(c_grid) + j]
    return scores


def _fold_scores_from_file(C: float, path: Path, y_train: np.ndarray, labels: list[str]) -> np.ndarray:
    x_train, x_test = joblib.load(path, mmap_mode="r")
    return _fold_scores(C, x_train, y_train, x_test, labels)


def cross_validation_sample(y: np.ndarray, size: int, folds: int) -> np.ndarray:
    """Sorted positions of the tickets cross-validation runs on: all of them up to `size`, else
    a stratified sample of `size` that keeps every ticket of a label too rare to fill the folds."""
    everything = np.arange(len(y))
    if len(y) <= size:
        return everything
    sample, _ = train_test_split(everything, train_size=size, stratify=y, random_state=RANDOM_STATE)
    in_sample = pd.Series(y[sample]).value_counts()
    rare = [label for label in set(y) if in_sample.get(label, 0) < folds]
    return np.union1d(sample, np.flatnonzero(np.isin(y, rare)))


def _word_counts(counted: CountedTexts) -> sp.csr_matrix:
    """The word n-gram counts `count_ngrams` made (counted here when it could not)."""
    word = dict(build_features().transformer_list)["word"]
    key = word.counting_key()
    return counted.counts[key][1] if key in counted.counts else word.count(counted)[1]


def _drop_stop_words(pipeline: Pipeline) -> None:
    """Forget the terms the vectorizers cut by document frequency: kept only for introspection,
    they would make up most of the saved file."""
    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        if hasattr(vectorizer, "stop_words_"):
            delattr(vectorizer, "stop_words_")


def _fold_scores(C: float, x_train: Any, y_train: np.ndarray, x_test: Any, labels: list[str]) -> np.ndarray:
    """Decision scores of one fold's held-out tickets from a regression fitted on the rest:
    one column (towards the second label) for two labels, else one per label."""
    model: LogisticRegression = build_logistic(C).fit(x_train, np.searchsorted(labels, y_train))
    scores = model.decision_function(x_test)
    if scores.ndim == 1:
        return scores.reshape(-1, 1)
    out = np.zeros((x_test.shape[0], len(labels)))
    out[:, model.classes_] = scores  # a label missing from this fold's training part keeps score 0
    return out


def _logits(scores: np.ndarray) -> np.ndarray:
    """Per-label logits from decision scores (two labels: 0 and the one score)."""
    return np.column_stack([np.zeros(len(scores)), scores[:, 0]]) if scores.shape[1] == 1 else scores


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
