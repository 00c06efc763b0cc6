"""In-process benchmarks: one ticket at a time and batches, the project's path against plain scikit-learn."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.corpus import texts_of_length
from model.predictor import TriageModel
from model.text import clean_text

REPEATS = 5


def _latencies(fn: Callable[[str], Any], texts: Sequence[str], repeats: int = REPEATS) -> np.ndarray:
    for t in texts[:20]:  # warm caches
        fn(t)
    out = []
    for _ in range(repeats):
        for t in texts:
            start = time.perf_counter_ns()
            fn(t)
            out.append(time.perf_counter_ns() - start)
    return np.asarray(out) / 1000.0  # microseconds


def single_ticket(model: TriageModel, words: int) -> dict[str, Any]:
    """p50/p99 of one-ticket prediction: the project's path against `pipeline.predict_proba`."""
    texts = texts_of_length(words, 200)
    ours = _latencies(lambda t: model.predict([t]), texts)
    ours_explained = _latencies(lambda t: model.predict([t], explain=True), texts)
    plain = _latencies(lambda t: model.pipeline.predict_proba([t]), texts)
    return {
        "words": words,
        "ours_p50_us": float(np.median(ours)), "ours_p99_us": float(np.percentile(ours, 99)),
        "ours_explained_p50_us": float(np.median(ours_explained)), "ours_explained_p99_us": float(np.percentile(ours_explained, 99)),
        "plain_p50_us": float(np.median(plain)), "plain_p99_us": float(np.percentile(plain, 99)),
        "speedup_p50": float(np.median(plain) / np.median(ours)),
    }


def batch_throughput(model: TriageModel, words: int = 60, batch: int = 1000, repeats: int = REPEATS) -> dict[str, Any]:
    """Tickets per second for batches of `batch` tickets, ours against the plain pipeline."""
    texts = (texts_of_length(words, 200) * (batch // 200 + 1))[:batch]

    def rate(fn: Callable[[list[str]], Any]) -> list[float]:
        fn(texts[:50])
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(texts)
            runs.append(batch / (time.perf_counter() - start))
        return runs

    ours, plain = rate(lambda ts: model.predict(ts)), rate(lambda ts: model.pipeline.predict_proba(ts))
    # Where the time goes: cleaning alone, and the model on already cleaned text.
    cleaning = rate(lambda ts: [clean_text(t) for t in ts])
    cleaned = [clean_text(t) for t in texts]
    scoring = rate(lambda _: model.predict_cleaned(cleaned))
    return {
        "words": words, "batch": batch,
        "cleaning_us_per_ticket": 1e6 / float(np.median(cleaning)), "model_us_per_ticket": 1e6 / float(np.median(scoring)),
        "ours_per_s": float(np.median(ours)), "ours_spread": [float(min(ours)), float(max(ours))],
        "plain_per_s": float(np.median(plain)), "plain_spread": [float(min(plain)), float(max(plain))],
        "ratio": float(np.median(ours) / np.median(plain)),
    }


def pin_to_one_core() -> None:
    """Run on one core with single-threaded BLAS, as the targets are stated per core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
