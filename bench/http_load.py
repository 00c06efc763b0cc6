"""A bounded HTTP/1.1 load generator for loopback servers, run in its own process.

Keeps `concurrency` keep-alive connections busy for `duration` seconds (closed loop: each
connection sends its next request when the previous answer is in), and records every latency.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    status_counts: dict[int, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def _connection(host: str, port: int, requests: list[bytes], deadline: float, out: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            request = requests[i % len(requests)]
            i += 1
            start = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            out["latencies"].append((time.perf_counter() - start) * 1000)
            status = int(status_line.split()[1])
            out["status"][status] = out["status"].get(status, 0) + 1
    finally:
        writer.close()


def _request(method: str, path: str, host: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _run(url: str, bodies: list[Any] | None, concurrency: int, duration: float, headers: dict[str, str], queue: Any) -> None:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise ValueError(f"load is only sent to loopback addresses, not {parts.hostname}")
    method = "GET" if bodies is None else "POST"
    requests = [_request(method, parts.path, parts.netloc, None, headers)] if bodies is None else [
        _request(method, parts.path, parts.netloc, json.dumps(b).encode(), headers) for b in bodies
    ]
    out: dict[str, Any] = {"latencies": [], "status": {}}

    async def main() -> float:
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(*[
            _connection(parts.hostname or "127.0.0.1", parts.port or 80, requests[k:] + requests[:k], deadline, out) for k in range(concurrency)
        ])
        return time.perf_counter() - start

    seconds = asyncio.run(main())
    queue.put((out["latencies"], out["status"], seconds))


def run_load(url: str, bodies: list[Any] | None = None, concurrency: int = 8, duration: float = 10.0,
             headers: dict[str, str] | None = None, cpu: int | None = None) -> LoadResult:
    """Load `url` from a second process (pinned to `cpu` when given) and return what it saw."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_pinned, args=(cpu, url, bodies, concurrency, duration, headers or {}, queue))
    proc.start()
    latencies, status, seconds = queue.get(timeout=duration + 60)
    proc.join(timeout=10)
    errors = sum(n for code, n in status.items() if code >= 400)
    return LoadResult(requests=len(latencies), errors=errors, seconds=seconds, latencies_ms=latencies, status_counts=status)


def _pinned(cpu: int | None, *args: Any) -> None:
    import os

    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    _run(*args)
