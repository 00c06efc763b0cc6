"""The retry buffer on disk: bounded by bytes, redacted, in order, kept across a restart; flushing
never makes a request wait; a locked PostgreSQL table sends review items to it instead of holding requests.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from service.metrics import Metrics
from service.review.buffer import BufferFull, RetryBuffer, ready_to_buffer
from service.review.hook import ReviewHook, ReviewQueueFull
from service.review.items import NewReviewItem
from service.review.store import ReviewStore
from tests.service.conftest import KEYS, PREDICT_KEY, REVIEW_ALL, REVIEW_KEY, SUPPORT_SV, ClientFactory

SECRET_MAIL = "anna.svensson@ekbacken.se"


def _item(ticket_id: str | None, body: str = "Synken har stannat") -> NewReviewItem:
    return NewReviewItem(ticket_id=ticket_id, subject="SSO", body=body, model_label="support", confidence=0.6,
                         probabilities={"support": 0.6, "delivery": 0.4}, model_version="v1", language="sv")


def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_the_buffer_keeps_items_redacted_in_order_within_its_bytes(tmp_path: Path) -> None:
    buffer = RetryBuffer(tmp_path / "buffer.db", capacity_bytes=2_000)
    assert (tmp_path / "buffer.db").stat().st_mode & 0o077 == 0, "the file holds ticket text: only its owner may read it"
    first = ready_to_buffer(_item(None, f"Svara till {SECRET_MAIL}"))
    assert buffer.append(first) == 1 and buffer.append(ready_to_buffer(_item("T-2"))) == 2, "each append says how many wait"
    try:
        buffer.append(ready_to_buffer(_item("T-3", "x" * 2_000)))
        raise AssertionError("an item over the byte capacity must be refused")
    except BufferFull as e:
        assert "full" in str(e), f"the refusal says why: {e}"
    assert SECRET_MAIL.encode() not in (tmp_path / "buffer.db").read_bytes(), "the file keeps no e-mail address"
    oldest = buffer.oldest()
    assert oldest is not None and oldest[1].ticket_id == first.ticket_id and oldest[1].ticket_id.startswith("review-"), \
        "the oldest first, with the ticket id fixed before it was kept (so a replay updates one entry)"
    buffer.remove(oldest[0])
    buffer.close()
    reopened = RetryBuffer(tmp_path / "buffer.db", capacity_bytes=2_000)
    assert len(reopened) == 1 and reopened.oldest()[1].ticket_id == "T-2", "what waits survives closing the file"  # type: ignore[index]
    assert 0 < reopened.size_bytes < 2_000, f"its bytes are counted again on opening: {reopened.size_bytes}"


class _StuckStore:
    """A store whose database hangs on writes while `stuck` is set (a lock held elsewhere)."""

    def __init__(self) -> None:
        self.stuck = threading.Event()
        self.release = threading.Event()
        self.items: list[NewReviewItem] = []

    def migrate(self) -> None:
        pass

    def enqueue(self, item: NewReviewItem) -> object:
        if self.stuck.is_set():
            self.release.wait(30)
        self.items.append(item)
        return type("Stored", (), {"id": len(self.items)})()

    def close(self) -> None:
        pass


def test_a_flush_stuck_on_the_database_never_holds_up_a_submit(tmp_path: Path) -> None:
    store = _StuckStore()
    hook = ReviewHook(store, RetryBuffer(tmp_path / "b.db", 1_000_000), Metrics(), retry_interval=1)  # type: ignore[arg-type]
    hook.buffer.append(ready_to_buffer(_item("T-1")))  # something waits: new items queue behind it
    store.stuck.set()
    flusher = threading.Thread(target=hook.flush)
    flusher.start()
    time.sleep(0.2)  # the flush now waits on the database
    started = time.monotonic()
    handoff = hook.submit(_item("T-2"))
    assert time.monotonic() - started < 0.5, "submit only appends to the buffer; it never waits for the flush"
    assert handoff.queued is False and "waits in the retry buffer" in (handoff.warning or ""), f"the item waits: {handoff}"
    store.release.set()
    flusher.join(10)
    store.stuck.clear()
    hook.flush()
    assert [i.ticket_id for i in store.items] == ["T-1", "T-2"], f"items reach the database in the order they came: {store.items}"
    assert hook.available, "once flushed, items go straight to the database again"


def test_a_buffer_with_no_room_refuses_at_once(tmp_path: Path) -> None:
    store = _StuckStore()
    hook = ReviewHook(store, RetryBuffer(tmp_path / "b.db", 0), Metrics(), retry_interval=2.5)  # type: ignore[arg-type]
    hook._needs_migration = True  # the database was down at start-up
    try:
        hook.submit(_item("T-1"))
        raise AssertionError("with TRIAGE_REVIEW_BUFFER_BYTES=0 nothing is buffered")
    except ReviewQueueFull as e:
        assert e.retry_after == 3, f"Retry-After rounds the retry interval up: {e.retry_after}"


def test_buffered_tickets_reach_the_database_after_a_restart(make_client: ClientFactory, tmp_path: Path) -> None:
    blocker = tmp_path / "db" / "reviews.db"
    blocker.mkdir(parents=True)  # the database cannot be opened while its path is a folder
    url, buffer_file = f"sqlite:///{blocker}", tmp_path / "buffer.db"
    first = make_client(database_url=url, review_buffer_file=buffer_file, review_retry_interval=60, **REVIEW_ALL)
    for n in range(3):
        assert first.post("/v1/predict", json={**SUPPORT_SV, "id": f"R-{n}"}).json()["review_queued"] is False, "the ticket is buffered"
    first.__exit__(None, None, None)  # the service stops (a deploy) while the database is still down
    blocker.rmdir()
    second = make_client(database_url=url, review_buffer_file=buffer_file, review_retry_interval=0.1, **REVIEW_ALL)
    assert _wait_for(lambda: second.get("/readyz").json()["review_buffer"] == 0), "the restarted service flushes what the first one buffered"
    with ReviewStore(url) as store:
        assert sorted(i.ticket_id for i in store.list_pending()) == ["R-0", "R-1", "R-2"], "no acknowledged ticket was lost"


def test_a_locked_postgresql_table_sends_review_items_to_the_buffer_instead_of_holding_requests(
        make_client: ClientFactory, postgres_url: str) -> None:
    client = make_client(database_url=postgres_url, api_keys=KEYS, database_timeout=1, review_retry_interval=0.2, **REVIEW_ALL)
    predict, review = {"X-API-Key": PREDICT_KEY}, {"X-API-Key": REVIEW_KEY}
    assert client.post("/v1/predict", json={**SUPPORT_SV, "id": "P-0"}, headers=predict).json()["review_queued"] is True
    engine = sa.create_engine(postgres_url)
    locker = engine.connect()
    locker.begin()
    locker.exec_driver_sql("LOCK TABLE review_items IN ACCESS EXCLUSIVE MODE")  # another session holds the table
    try:
        started = time.monotonic()
        answers = [client.post("/v1/predict", json={**SUPPORT_SV, "id": f"P-{n}"}, headers=predict) for n in range(1, 6)]
        took = time.monotonic() - started
        assert all(r.status_code == 200 and r.json()["review_queued"] is False for r in answers), [r.text[:200] for r in answers]
        assert took < 4, f"the first write waits TRIAGE_DATABASE_TIMEOUT (1 s), the others none: {took:.2f} s for five"
        model_started = time.monotonic()
        assert client.get("/v1/model", headers=predict).status_code == 200 and time.monotonic() - model_started < 1, "other endpoints answer"
        listed = client.get("/v1/review/items", headers=review)
        assert listed.status_code == 503 and listed.json()["error"]["code"] == "review_store_unavailable", f"reads give up too: {listed.text}"
        assert listed.headers["retry-after"] == "5", "a 503 says when to try again"
        ready = client.get("/readyz").json()
        assert ready["review_store"] == "unavailable" and ready["review_buffer"] == 5, f"readyz tells the truth: {ready}"
    finally:
        locker.rollback()
        locker.close()
    assert _wait_for(lambda: client.get("/readyz").json()["review_buffer"] == 0), "once the lock is gone, the buffer is flushed"
    with ReviewStore(postgres_url) as store:
        assert sorted(i.ticket_id for i in store.list_pending(limit=50)) == [f"P-{n}" for n in range(6)], "every ticket reached the queue once"
    engine.dispose()


def test_readiness_learns_of_a_database_outage_without_any_ticket(make_client: ClientFactory, tmp_path: Path) -> None:
    folder = tmp_path / "db"
    client = make_client(database_url=f"sqlite:///{folder / 'reviews.db'}", review_buffer_file=tmp_path / "buffer.db",
                         review_retry_interval=0.1)
    assert client.get("/readyz").json()["review_store"] == "ok", "the database answers at first"
    client.app.state.services.review.store.close()  # drop pooled connections, as a restarted database server would
    shutil.rmtree(folder)
    folder.write_text("a file where the database's folder was")  # the database cannot be opened now
    assert _wait_for(lambda: client.get("/readyz").json()["review_store"] == "unavailable", 5), "the background check notices"
    folder.unlink()
    folder.mkdir()
    assert _wait_for(lambda: client.get("/readyz").json()["review_store"] == "ok", 5), "and notices the database is back"
