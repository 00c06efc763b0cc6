"""The real service process is killed (SIGKILL) while agents submit decisions concurrently, then
restarted on the same database (SQLite and PostgreSQL): every decision that was acknowledged with a
200 is there exactly once, as acknowledged, nothing is half-written, and the service works on.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from service.review.store import ReviewStore
from tests.conftest import TICKETS
from tests.server_process import free_port, start_serve
from tests.service.conftest import PREDICT_KEY, REVIEW_KEY

ITEMS = 150
AGENTS = 8
KILL_AFTER_ACKS = 60
START_SECONDS = 60
HEADERS = {"X-API-Key": REVIEW_KEY}



@dataclass
class Server:
    """`triage serve` on a free loopback port, pinned to one model, every ticket routed to review."""

    model_dir: Path
    database_url: str
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        keys = self.folder / "keys.txt"
        keys.write_text(f"{PREDICT_KEY}:predict\n{REVIEW_KEY}:review,predict\n")
        keys.chmod(0o600)  # a key file others could read is refused
        args = ["--model", str(self.model_dir), "--api-keys-file", str(keys), "--database", self.database_url]
        self.process = start_serve(args, self.folder, {"TRIAGE_THRESHOLDS": '{"delivery": 1.0, "support": 1.0}'}, self.port, START_SECONDS)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=15) == -signal.SIGKILL, "the server dies by SIGKILL, without any chance to clean up"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path, model_a: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'var' / 'reviews.db'}" if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    running = Server(model_a, url, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _queue_tickets(server: Server) -> list[int]:
    """Route ITEMS shipped tickets to review through the API; the queue's item ids."""
    frame = pd.read_csv(TICKETS, dtype=str, keep_default_na=False).head(ITEMS)
    tickets = [{"id": f"crash-{n}", "subject": row.subject, "body": row.body} for n, row in enumerate(frame.itertuples())]
    ids = []
    with httpx.Client(base_url=server.base, headers={"X-API-Key": PREDICT_KEY}, timeout=30) as client:
        for start in range(0, len(tickets), 50):
            results = client.post("/v1/predict/batch", json={"tickets": tickets[start:start + 50]}).json()["results"]
            ids += [r["result"]["review_item_id"] for r in results if r["result"] and r["result"]["review_queued"]]
    assert len(ids) == ITEMS, f"every ticket is queued for review before the crash ({len(ids)} of {ITEMS})"
    return ids


def _agents_until_killed(server: Server, ids: list[int]) -> tuple[dict[int, tuple[str, str]], int]:
    """Agents decide the items concurrently (each item offered to two agents) until the server is killed.

    Returns the acknowledged decisions {item id: (label, reviewer)} and how many conflicts (409) were seen.
    """
    work = [item for item in ids for _ in range(2)]
    random.Random(7).shuffle(work)
    lock, acked, acks_by_item, conflicts = threading.Lock(), threading.Event(), {}, [0]
    duplicate_acks: list[int] = []
    unexpected: list[str] = []

    def agent(name: str) -> None:
        rng = random.Random(name)
        with httpx.Client(base_url=server.base, headers=HEADERS, timeout=10) as client:
            while True:
                with lock:
                    if not work:
                        return
                    item_id = work.pop()
                label = rng.choice(["support", "delivery"])
                try:
                    r = client.post(f"/v1/review/items/{item_id}/decision", json={"label": label, "reviewer": name})
                except httpx.TransportError:
                    return  # the server is gone: this decision was never acknowledged
                with lock:
                    if r.status_code == 200:
                        if item_id in acks_by_item:
                            duplicate_acks.append(item_id)
                        acks_by_item[item_id] = (label, name)
                        if len(acks_by_item) >= KILL_AFTER_ACKS:
                            acked.set()
                    elif r.status_code == 409:
                        conflicts[0] += 1
                    else:
                        unexpected.append(f"{r.status_code} {r.text[:200]}")
                        return

    threads = [threading.Thread(target=agent, args=(f"agent-{n}",)) for n in range(AGENTS)]
    for thread in threads:
        thread.start()
    assert acked.wait(60), "the agents should get enough decisions acknowledged before the kill"
    server.kill()  # while the other agents' decisions are in flight
    for thread in threads:
        thread.join(timeout=30)
    assert not duplicate_acks, f"an item's decision was acknowledged twice: {duplicate_acks}"
    assert not unexpected, f"decisions before the kill get 200 or 409 only: {unexpected}"
    return acks_by_item, conflicts[0]


def test_acknowledged_decisions_survive_sigkill_of_the_service(server: Server) -> None:
    server.start()
    ids = _queue_tickets(server)
    acks, conflicts = _agents_until_killed(server, ids)
    assert len(acks) >= KILL_AFTER_ACKS and conflicts > 0, f"agents raced for items before the kill ({len(acks)} acks, {conflicts} conflicts)"

    server.start()  # the same database, after the crash
    with ReviewStore(server.database_url) as store:
        items = {item.id: item for item in store.list_pending(limit=500) + store.decided()}
    assert sorted(items) == sorted(ids), "every queued ticket is still there, once: none lost, none doubled"
    for item_id, (label, reviewer) in acks.items():
        item = items[item_id]
        assert (item.decided_label, item.decided_by) == (label, reviewer), f"acknowledged decision on {item_id} should be stored as acknowledged: {item}"
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, decided_at, decided_label, decided_by FROM review_items")).all()
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok", "the SQLite file is intact"
    finally:
        engine.dispose()
    half = [r for r in rows if len({r.decided_at is None, r.decided_label is None, r.decided_by is None}) != 1]
    assert not half, f"no decision is half-written: {half}"

    undecided = next(item_id for item_id in ids if items[item_id].decided_at is None)
    r = httpx.post(f"{server.base}/v1/review/items/{undecided}/decision", json={"label": "support", "reviewer": "after-restart"}, headers=HEADERS)
    assert r.status_code == 200, f"the restarted service records decisions: {r.text}"
    r = httpx.post(f"{server.base}/v1/review/items/{next(iter(acks))}/decision", json={"label": "support", "reviewer": "late"}, headers=HEADERS)
    assert r.status_code == 409, f"an acknowledged decision still stands after the restart: {r.text}"
