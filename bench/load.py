"""A bounded soak test: a steady rate of `POST /v1/predict` with real tickets, against loopback only.

Starts `triage serve` (a model directory it is given, or one it trains on data/tickets.csv) with
an API key and a fresh SQLite review queue, or targets a service already running on a loopback
URL. It sends requests at a fixed rate for a fixed time (open loop: a request is sent on schedule
whatever the earlier ones are doing, so a slow server shows up as latency, not as a lower rate),
then stops by itself, and reports errors, latency percentiles, the routes taken and the server's
resident memory (VmRSS from /proc) over time. The tickets sent are every fifth of data/tickets.csv;
the model it trains learns from the others, so they route to review as often as unseen tickets
do. docs/LOAD.md has a run and its numbers.

    python -m bench.load --rate 200 --duration 180            # start a service, load it, stop it
    python -m bench.load --url http://127.0.0.1:8000 --pid 4711 --api-key KEY
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd

from model.signature import KEY_FILE_ENV

REPO = Path(__file__).resolve().parents[1]
TICKETS = REPO / "data" / "tickets.csv"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_IN_FLIGHT = 500  # beyond this the server is hopelessly behind: requests are counted as not sent, memory stays bounded
MAX_DURATION_S = 3600.0
MAX_RATE = 2000.0
HOLD_OUT_EVERY = 5


def rss_mib(pid: int) -> float:
    """The process's resident memory in MiB (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def split_tickets() -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The shipped tickets split in two: four in five to train on, every fifth to send (as predict requests).

    A model is sure of the tickets it was trained on; tickets it has never seen route to review
    as often as in production, so the load exercises the review queue too.
    """
    frame = pd.read_csv(TICKETS, dtype=str, keep_default_na=False)
    held_out = frame.index % HOLD_OUT_EVERY == 0
    return frame[~held_out], [{"subject": row.subject, "body": row.body} for row in frame[held_out].itertuples()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def started_service(model: Path | None, api_key: str, training: pd.DataFrame) -> Iterator[tuple[str, int]]:
    """A `triage serve` on a free loopback port with a fresh SQLite queue; yields (url, pid), stops it after."""
    with tempfile.TemporaryDirectory(prefix="triage-load-") as tmp:
        folder = Path(tmp)
        if model is None:
            print(f"training a model on {len(training)} of the shipped tickets (no --model given) ...", file=sys.stderr)
            from model.data import load_tickets
            from model.registry import save_model
            from model.train import train

            data, model = folder / "train.csv", folder / "model"
            training.to_csv(data, index=False)
            save_model(train(load_tickets([data])), model, [data])
        port = _free_port()
        # The developer's service settings stay out; the registry key that signed the model stays in.
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_") or k == KEY_FILE_ENV},
               "TRIAGE_API_KEYS": f"{api_key}:predict", "TRIAGE_LOG_LEVEL": "warning"}
        command = [sys.executable, "-m", "cli.main", "serve", "--model", str(model), "--port", str(port),
                   "--database", f"sqlite:///{folder / 'reviews.db'}"]
        with open(folder / "server.log", "wb") as log:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise RuntimeError(f"the service did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


async def steady_load(url: str, api_key: str | None, tickets: list[dict[str, str]], rate: float, duration: float, warmup: float,
                      pid: int | None, sample_every: float = 10.0) -> dict[str, Any]:
    """Send `rate` predictions per second for `warmup + duration` seconds; measure only after the warm-up."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    total = int((warmup + duration) * rate)
    measured_from = int(warmup * rate)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    not_queued = 0
    in_flight = 0
    memory: list[tuple[float, float]] = []
    loop = asyncio.get_running_loop()

    async def one(n: int, scheduled: float, client: httpx.AsyncClient) -> None:
        nonlocal in_flight, not_queued
        in_flight += 1
        try:
            r = await client.post("/v1/predict", json={**tickets[n % len(tickets)], "id": f"load-{n}"})
            outcome = str(r.status_code)
            if r.status_code == 200 and n >= measured_from:
                answer = r.json()
                routes[answer["route"]] += 1
                not_queued += answer["route"] == "review" and answer["review_queued"] is not True
        except httpx.HTTPError as e:
            outcome = type(e).__name__
        finally:
            in_flight -= 1
        if n >= measured_from:
            latencies.append((loop.time() - scheduled) * 1000)  # from the scheduled send: lateness counts too
            statuses[outcome] += 1

    async def sample_memory(start: float) -> None:
        while pid is not None:
            memory.append((round(loop.time() - start, 1), round(rss_mib(pid), 1)))
            await asyncio.sleep(sample_every)

    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
        start = loop.time()
        sampler = asyncio.create_task(sample_memory(start))
        tasks = set()
        for n in range(total):
            scheduled = start + n / rate
            if (delay := scheduled - loop.time()) > 0:
                await asyncio.sleep(delay)
            if in_flight >= MAX_IN_FLIGHT:
                if n >= measured_from:
                    statuses["not sent: client at its in-flight cap"] += 1
                continue
            task = asyncio.create_task(one(n, scheduled, client))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
        if pid is not None:
            memory.append((round(elapsed, 1), round(rss_mib(pid), 1)))
        sampler.cancel()
    lat = np.asarray(latencies)
    sent = sum(statuses.values())
    after_warmup = [rss for t, rss in memory if t >= warmup]
    return {
        "rate_per_s": rate, "duration_s": duration, "warmup_s": warmup, "requests": sent,
        "achieved_rate_per_s": round(sent / duration, 1),
        "errors": sent - statuses["200"], "statuses": dict(statuses),
        "latency_ms": {q: round(float(np.percentile(lat, p)), 2) for q, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9))}
        | {"max": round(float(lat.max()), 2)} if len(lat) else {},
        "routes": dict(routes), "review_not_queued": not_queued,
        "rss_mib_over_time": memory,
        "rss_growth_after_warmup_mib": round(after_warmup[-1] - after_warmup[0], 1) if len(after_warmup) > 1 else None,
    }


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {host}: this script only targets loopback ({', '.join(LOOPBACK)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds measured (default 180)")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of load before measuring (default 15)")
    parser.add_argument("--model", type=Path, help="model directory to serve (default: train one on four in five shipped tickets)")
    parser.add_argument("--url", help="a running service on loopback instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, for its memory")
    parser.add_argument("--api-key", help="with --url: a key with the predict role")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if not (0 < args.rate <= MAX_RATE and 0 < args.duration <= MAX_DURATION_S and 0 <= args.warmup <= MAX_DURATION_S):
        parser.error(f"--rate must be in (0, {MAX_RATE}], --duration and --warmup at most {MAX_DURATION_S} s")
    training, tickets = split_tickets()
    if args.url:
        _check_loopback(args.url)
        report = asyncio.run(steady_load(args.url, args.api_key, tickets, args.rate, args.duration, args.warmup, args.pid))
    else:
        key = secrets.token_urlsafe(32)
        with started_service(args.model, key, training) as (url, pid):
            report = asyncio.run(steady_load(url, key, tickets, args.rate, args.duration, args.warmup, pid))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
