"""Slow and many clients against a real `triage serve`: bounded connections, request read deadlines, and
large predictions that do not stall health checks (service/connections.py, service/middleware.py,
service/predict/routes.py).
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.connections import RESERVED_FILE_DESCRIPTORS, ensure_file_descriptors
from tests.server_process import free_port, start_serve, stop

START_SECONDS = 90
MAX_CONNECTIONS = 20
READ_TIMEOUT = 1.5


@pytest.fixture
def server(tmp_path: Path, small_model_dir: Path) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """`triage serve` without keys on loopback, with a small connection limit and a short read deadline."""
    port = free_port()
    env = {"TRIAGE_WATCH_INTERVAL": "0", "TRIAGE_MAX_CONNECTIONS": str(MAX_CONNECTIONS), "TRIAGE_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT)}
    args = ["--model", str(small_model_dir), "--database", f"sqlite:///{tmp_path / 'var' / 'reviews.db'}"]
    process = start_serve(args, tmp_path, env, port, START_SECONDS)
    try:
        yield f"http://127.0.0.1:{port}", port, process
    finally:
        stop(process)


def _slow_body_client(port: int) -> socket.socket:
    """A connection that sends a request head announcing 100 kB and then one byte of the body."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    return s


def _answer(s: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _open_files(process: subprocess.Popen[bytes]) -> int:
    return len(os.listdir(f"/proc/{process.pid}/fd"))


def test_connections_over_the_limit_are_refused_and_slow_bodies_cut_off(server: tuple[str, int, subprocess.Popen[bytes]]) -> None:
    base, port, process = server
    baseline = _open_files(process)
    slow = [_slow_body_client(port) for _ in range(MAX_CONNECTIONS * 3)]
    time.sleep(0.3)
    assert _open_files(process) <= baseline + MAX_CONNECTIONS + 2, f"no more than {MAX_CONNECTIONS} connections stay open: {_open_files(process)}"
    started = time.monotonic()
    answers = [_answer(s) for s in slow]
    busy = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
    cut_off = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
    assert len(busy) >= MAX_CONNECTIONS * 2 - 2, f"connections over the limit are answered 503 at once: {len(busy)} of {len(answers)}"
    assert b"retry-after: 1" in busy[0].lower() and b"too_many_connections" in busy[0], f"the 503 says so and when to retry: {busy[0][:300]!r}"
    assert len(cut_off) + len(busy) == len(answers), f"every slow body is answered 408: {[a[:12] for a in answers]}"
    assert b"request_timeout" in cut_off[0] and b"connection: close" in cut_off[0].lower(), f"the 408 has the error body and closes: {cut_off[0]!r}"
    assert time.monotonic() - started < READ_TIMEOUT + 5, "slow bodies are cut off at the read deadline"
    for s in slow:
        s.close()
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200, "the service answers again once the slow clients are gone"


def test_a_request_head_sent_slowly_is_cut_off(server: tuple[str, int, subprocess.Popen[bytes]]) -> None:
    _, port, _ = server
    silent = socket.create_connection(("127.0.0.1", port), timeout=10)  # connects and says nothing
    dribbling = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.monotonic()
    for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n":  # never ends the head
        try:
            dribbling.send(bytes([byte]))
        except OSError:
            break
        time.sleep(0.1)
    assert _answer(silent) == b"", "a silent connection is closed"
    _answer(dribbling)
    assert time.monotonic() - started < READ_TIMEOUT + 5, "both are closed at the read deadline, not kept open"


def test_a_large_batch_does_not_stall_health_checks(server: tuple[str, int, subprocess.Popen[bytes]]) -> None:
    base, _, _ = server
    words = "Hej, synken till Google har stannat och eleverna syns inte i skolan sedan i morse. ".split()
    body = " ".join(words[i % len(words)] + str(i % 97) for i in range(2500))[:19_900]
    batch = {"tickets": [{"id": f"B-{n}", "body": body} for n in range(98)]}
    took: list[float] = []

    def send_batch() -> None:
        started = time.monotonic()
        r = httpx.post(f"{base}/v1/predict/batch", json=batch, timeout=120)
        took.append(time.monotonic() - started)
        assert r.status_code == 200, r.text[:300]

    worker = threading.Thread(target=send_batch)
    worker.start()
    health: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        while worker.is_alive():
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            health.append(time.monotonic() - started)
            time.sleep(0.02)
    worker.join()
    assert took and took[0] > 0.5, f"the batch is real work: {took}"
    assert health and max(health) < max(0.5, took[0] / 4), f"/healthz answers while the batch is predicted (batch {took[0]:.2f} s): worst {max(health):.3f} s"


def test_the_open_file_limit_is_raised_or_the_setting_refused() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    assert ensure_file_descriptors(min(soft, hard) - RESERVED_FILE_DESCRIPTORS) >= min(soft, hard) - 1, "a limit that fits is kept"
    with pytest.raises(ValueError, match=r"lower TRIAGE_MAX_CONNECTIONS to \d+ or raise the limit"):
        ensure_file_descriptors(hard)
