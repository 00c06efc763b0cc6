"""Training benchmark: wall time and peak memory of `train` at growing corpus sizes."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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
print(json.dumps({"load_s": loaded - start, "train_s": done - loaded, "C": result.params["C"]}))
"""


def training_run(size: int) -> dict[str, Any]:
    """Train on `size` resampled tickets in a fresh process; its peak RSS is the memory figure."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"corpus-{size}.csv"
        perturbed_corpus(size).to_csv(path, index=False)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True, capture_output=True, text=True)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return {"size": size, **figures, "peak_rss_mib": peak_kib / 1024, "peak_is_lower_bound": peak_kib == before}
