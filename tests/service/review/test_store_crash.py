"""An acknowledged decision survives the process being killed (SIGKILL) at any moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from service.review.store import ReviewStore
from tests.service.review.review_store_helpers import ItemFactory

WORKER = Path(__file__).with_name("crash_worker.py")
REPO = Path(__file__).resolve().parents[3]
ACKNOWLEDGED_BEFORE_KILL = 40
DEADLINE_SECONDS = 120


def _run_and_kill(database_url: str) -> tuple[list[tuple[int, int, str]], str]:
    """Start the worker, SIGKILL it once it has acknowledged enough decisions; all acknowledgements and stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, str(WORKER), database_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    killer = threading.Timer(DEADLINE_SECONDS, proc.kill)  # a hung worker must not hang the test run
    killer.start()
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if len(lines) > ACKNOWLEDGED_BEFORE_KILL:  # "ready" plus the acknowledgements
                time.sleep(0.01)  # land the kill somewhere inside the next enqueue/decide
                still_running = proc.poll() is None
                os.kill(proc.pid, signal.SIGKILL)
                assert still_running, "the worker should still be deciding when it is killed"
                break
        lines.extend(proc.stdout.read().splitlines(keepends=True))  # printed before the kill, so acknowledged
        proc.wait(timeout=30)
        stderr = proc.stderr.read()
    finally:
        killer.cancel()
        proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"the worker should die by SIGKILL, got {proc.returncode}; stderr: {stderr[-2000:]}"
    acks = [(int(n), int(item_id), label) for n, item_id, label in (line.split() for line in lines[1:])]
    return acks, stderr


def test_acknowledged_decisions_survive_sigkill(database_url: str, raw_engine: sa.Engine, make_item: ItemFactory) -> None:
    setup = ReviewStore(database_url)
    setup.migrate()
    setup.close()

    acks, stderr = _run_and_kill(database_url)
    assert len(acks) >= ACKNOWLEDGED_BEFORE_KILL, f"the worker should acknowledge {ACKNOWLEDGED_BEFORE_KILL} decisions; stderr: {stderr[-2000:]}"

    store = ReviewStore(database_url)
    store.migrate()  # a restart after the crash runs migrations again
    decided = {item.ticket_id: item for item in store.decided()}
    for n, item_id, label in acks:
        item = decided.get(f"crash-{n}")
        assert item is not None, f"acknowledged decision {n} should have survived the kill"
        assert (item.id, item.decided_label, item.decided_by, item.note) == (item_id, label, "crash-worker", f"decision {n}"), (
            f"acknowledged decision {n} should be stored as acknowledged: {item}"
        )
    with raw_engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT ticket_id, decided_at, decided_label, decided_by FROM review_items")).all()
        if raw_engine.dialect.name == "sqlite":
            check = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
            assert check == "ok", f"the SQLite file should be intact after the kill: {check}"
    ticket_ids = [r.ticket_id for r in rows]
    assert len(ticket_ids) == len(set(ticket_ids)), "every ticket should be stored exactly once"
    assert set(ticket_ids) <= {f"crash-{n}" for n in range(len(acks) + 1)}, "at most the one in-flight ticket may exist unacknowledged"
    half = [r for r in rows if len({r.decided_at is None, r.decided_label is None, r.decided_by is None}) != 1]
    assert not half, f"no decision should be half-written: {half}"

    after = store.enqueue(make_item(ticket_id="after-restart"))
    assert store.decide(after.id, "support", "agent-a").is_decided, "the database should accept writes after the crash"
    store.close()
