"""Training benchmark: wall time and peak memory of `train` at growing corpus sizes.

Training runs in a fresh process, which starts worker processes for the cross-validation
regressions from 5,000 tickets on. The memory figure is the peak, over samples taken every
0.1 s, of the proportional set size (PSS) summed over the process and its workers: memory the
processes share (the mapped fold matrices) is divided among them rather than counted in each.
The largest resident set of any single process is reported beside it.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.corpus import perturbed_corpus

_CHILD = """
import json, sys, time
from model.data import load_tickets
from model.train import train
start = time.perf_counter()
tickets = load_tickets([sys.argv[1]])
loaded = time.perf_counter()
result = train(tickets)
done = time.perf_counter()
print(json.dumps({"load_s": loaded - start, "train_s": done - loaded, "C": result.params["C"],
                  "cv_tickets": result.params["cv_tickets"]}))
"""
_SAMPLE_EVERY_S = 0.1


def _tree_pss_mib(process: psutil.Process) -> float:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**20


def training_run(size: int) -> dict[str, Any]:
    """Load and train on `size` resampled tickets in a fresh process, watching its memory."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"corpus-{size}.csv"
        perturbed_corpus(size).to_csv(path, index=False)
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True)
        watched = psutil.Process(child.pid)
        peak = 0.0
        while child.poll() is None:
            try:
                peak = max(peak, _tree_pss_mib(watched))
            except psutil.NoSuchProcess:
                break
            time.sleep(_SAMPLE_EVERY_S)
        out, _ = child.communicate()
        wall = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(f"training {size} tickets failed with exit code {child.returncode}")
        largest_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures = json.loads(out.strip().splitlines()[-1])
    return {"size": size, **figures, "total_s": figures["load_s"] + figures["train_s"], "process_wall_s": wall,
            "peak_pss_mib": peak, "largest_process_rss_mib": largest_kib / 1024}


_REFERENCE_CHILD = """
import json, sys, time
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from model.data import load_tickets, training_rows
from model.pipeline import RANDOM_STATE, build_features, build_logistic
from model.text import TextCleaner
from model.train import C_GRID, CV_FOLDS

def plain_features():
    return FeatureUnion([(name, TfidfVectorizer(**v.get_params())) for name, v in build_features().transformer_list])

start = time.perf_counter()
rows, _ = training_rows(load_tickets([sys.argv[1]]))
texts, y = rows["text"].tolist(), rows["label"].to_numpy()
cleaned = TextCleaner().transform(texts)
folds = list(StratifiedKFold(CV_FOLDS, shuffle=True, random_state=RANDOM_STATE).split(texts, y))
for train_idx, test_idx in folds:
    features = plain_features()
    x_train = features.fit_transform([cleaned[i] for i in train_idx])
    x_test = features.transform([cleaned[i] for i in test_idx])
    for C in C_GRID:
        build_logistic(C).fit(x_train, y[train_idx]).decision_function(x_test)
folds_cv = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=RANDOM_STATE)
Pipeline([("clean", TextCleaner()), ("features", plain_features()),
          ("classifier", CalibratedClassifierCV(build_logistic(10.0), method="temperature", cv=folds_cv, ensemble=False))]).fit(texts, y)
print(json.dumps({"total_s": time.perf_counter() - start}))
"""


def reference_run(size: int) -> dict[str, Any]:
    """The same procedure done the plain way, for comparison: scikit-learn's vectorizers fitted
    on every fold, one regression after another, and `CalibratedClassifierCV` cross-validating
    again for the temperature."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"corpus-{size}.csv"
        perturbed_corpus(size).to_csv(path, index=False)
        out = subprocess.run([sys.executable, "-c", _REFERENCE_CHILD, str(path)], check=True, capture_output=True, text=True)
    return {"size": size, **json.loads(out.stdout.strip().splitlines()[-1])}
