"""Starting and stopping a real `triage serve` process for tests that go over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from model.signature import KEY_FILE_ENV

TRIAGE = Path(sys.executable).with_name("triage")  # the console script `pip install -e .` puts beside python


def write_keys_file(path: Path, lines: str) -> Path:
    """An API keys file as the service accepts it: private to its owner (a file others could read is refused)."""
    path.write_text(lines)
    path.chmod(0o600)
    return path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(args: list[str], folder: Path, env: dict[str, str], port: int, start_seconds: float, log_name: str = "server.log") -> subprocess.Popen[bytes]:
    """Run `triage serve --port PORT ARGS` in `folder` (without the developer's TRIAGE_* settings)
    and return once /readyz answers 200; fail the test with the server's log otherwise."""
    assert TRIAGE.exists(), f"{TRIAGE} is missing: install the package (make install)"
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_") or k == KEY_FILE_ENV}, **env}
    log = folder / log_name
    with open(log, "ab") as out:
        process = subprocess.Popen([str(TRIAGE), "serve", "--port", str(port), *args], cwd=folder, env=environment,
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop(process)
    pytest.fail(f"the server did not become ready (exit code {process.poll()}):\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL if it takes more than 15 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
