"""In-process benchmarks: one ticket at a time and batches, the project's path against plain scikit-learn."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from bench.corpus import texts_of_length
from model.predictor import TriageModel
from model.text import clean_text

REPEATS = 5


def latencies_taking_turns(fns: dict[str, Callable[[Any], Any]], texts: Sequence[Any], repeats: int = REPEATS) -> dict[str, np.ndarray]:
    """Microseconds per call of each function. The functions take turns, a block of all the
    texts each, `repeats` times: a burst of load on this shared machine falls on all of them
    alike, while within a block each runs warm, as it would serving requests back to back
    (taking turns ticket by ticket would have each evict the other's data from the CPU caches)."""
    for t in texts[:20]:  # warm caches
        for fn in fns.values():
            fn(t)
    out: dict[str, list[int]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            for t in texts:
                start = time.perf_counter_ns()
                fn(t)
                out[name].append(time.perf_counter_ns() - start)
    return {name: np.asarray(v) / 1000.0 for name, v in out.items()}


def single_ticket(model: TriageModel, words: int) -> dict[str, Any]:
    """p50/p99 of one-ticket prediction: the project's path against `pipeline.predict_proba`."""
    texts = texts_of_length(words, 200)
    lat = latencies_taking_turns({
        "ours": lambda t: model.predict([t]),
        "ours_explained": lambda t: model.predict([t], explain=True),
        "plain": lambda t: model.pipeline.predict_proba([t]),
    }, texts)
    ours, ours_explained, plain = lat["ours"], lat["ours_explained"], lat["plain"]
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


@contextmanager
def one_core() -> Iterator[None]:
    """Run the block on one core, as the in-process targets are stated per core; then give the
    process (and the processes it starts later, which inherit it) all its cores back."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)
