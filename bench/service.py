"""Service benchmarks: the real `triage serve` process under load from a second process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import texts_of_length
from bench.http_load import LoadResult, run_load

SERVER_CPU, CLIENT_CPU = 0, 1
MEMORY_PREDICTIONS = 100_000  # resident memory is read again after this many predictions
ROUNDS = 4  # /healthz and /v1/predict take turns this many times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model_dir: Path, workdir: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start `triage serve` on a free loopback port, pinned to one core; wait until it is ready."""
    port = _free_port()
    environment = {**os.environ, "TRIAGE_WATCH_INTERVAL": "0", "TRIAGE_LOG_LEVEL": "warning", **(env or {})}

    def pin() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {SERVER_CPU})

    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--model", str(model_dir), "--port", str(port),
         "--database", f"sqlite:///{workdir / 'bench.db'}"],
        env=environment, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the service did not become ready within 30 s")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _combined(rounds: list[LoadResult]) -> LoadResult:
    """The rounds of one endpoint as one load run."""
    status = sum((Counter(r.status_counts) for r in rounds), Counter[int]())
    return LoadResult(requests=sum(r.requests for r in rounds), errors=sum(r.errors for r in rounds), seconds=sum(r.seconds for r in rounds),
                      latencies_ms=[x for r in rounds for x in r.latencies_ms], status_counts=dict(status))


def summary(result: LoadResult) -> dict[str, Any]:
    lat = np.asarray(result.latencies_ms)
    return {
        "requests": result.requests, "errors": result.errors, "per_s": result.per_second,
        "p50_ms": float(np.median(lat)) if len(lat) else None, "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
    }


def _predict_until(url: str, tickets: list[dict[str, str]], count: int, batch_size: int = 100) -> int:
    """Send batches of tickets until `count` predictions were served; returns how many."""
    import json

    served = 0
    body = json.dumps({"tickets": (tickets * (batch_size // len(tickets) + 1))[:batch_size]}).encode()
    while served < count:
        request = urllib.request.Request(f"{url}/v1/predict/batch", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            r.read()
        served += batch_size
    return served


def service_benchmark(model_dir: Path, duration: float = 15.0, concurrency: int = 8, batch_size: int = 50) -> dict[str, Any]:
    """Predict vs /healthz throughput and latency, the batch endpoint's tickets/s, and memory."""
    tickets = [{"id": f"b{i}", "body": t} for i, t in enumerate(texts_of_length(60, 200))]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        proc, url = start_server(model_dir.resolve(), workdir)
        ready_s = time.perf_counter() - started
        try:
            rss_start = rss_mib(proc.pid)
            # /healthz and /v1/predict take turns, a slice of the duration each per round, so that a
            # burst of load on this shared machine falls on both alike; the ratio is the median of
            # the rounds' ratios.
            warmed = _predict_until(url, tickets, len(tickets))  # the model meets the tickets' words once before timing
            health_rounds, predict_rounds = [], []
            for _ in range(ROUNDS):
                health_rounds.append(run_load(f"{url}/healthz", None, concurrency, duration / ROUNDS, cpu=CLIENT_CPU))
                predict_rounds.append(run_load(f"{url}/v1/predict", tickets, concurrency, duration / ROUNDS, cpu=CLIENT_CPU))
            health, predict = _combined(health_rounds), _combined(predict_rounds)
            ratios = [p.per_second / h.per_second for h, p in zip(health_rounds, predict_rounds)]
            batches = [{"tickets": tickets[i : i + batch_size]} for i in range(0, len(tickets), batch_size)]
            batch = run_load(f"{url}/v1/predict/batch", batches, 2, duration, cpu=CLIENT_CPU)
            predictions = warmed + predict.requests + batch.requests * batch_size
            rss_after_load = rss_mib(proc.pid)
            predictions += _predict_until(url, tickets, MEMORY_PREDICTIONS - predictions)
            rss_after = rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {
        "ready_s": ready_s, "concurrency": concurrency, "duration_s": duration,
        "healthz": summary(health), "predict": summary(predict),
        "predict_vs_healthz": float(np.median(ratios)), "predict_vs_healthz_rounds": ratios,
        "batch": {**summary(batch), "batch_size": batch_size, "tickets_per_s": batch.per_second * batch_size},
        "rss_start_mib": rss_start, "rss_after_load_mib": rss_after_load, "rss_after_mib": rss_after, "predictions_served": predictions,
    }
