"""Tickets routed to review reach the review store (real SQLite); while it is down they wait in a
bounded buffer that is flushed when it is back, and nothing is dropped without saying so.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from service.review.store import ReviewStore
from tests.service.conftest import DELIVERY_SV, REVIEW_ALL, ROUTE_ALL, SUPPORT_SV, ClientFactory, TestClient

SECRET_MAIL = "anna.svensson@ekbacken.se"


def _pending(url: str) -> list:
    with ReviewStore(url) as store:
        return store.list_pending()


def test_review_predictions_are_queued_with_redacted_text(make_client: ClientFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q' / 'reviews.db'}"
    client = make_client(database_url=url, **REVIEW_ALL)
    ticket = {**SUPPORT_SV, "body": SUPPORT_SV["body"] + f" Svara till {SECRET_MAIL}"}
    body = client.post("/v1/predict", json=ticket).json()
    assert body["route"] == "review" and body["review_queued"] is True, f"a review ticket should be queued: {body}"
    assert isinstance(body["review_item_id"], int) and body["warning"] is None, "a queued ticket has the store's id and no warning"
    batch = client.post("/v1/predict/batch", json={"tickets": [DELIVERY_SV, {"body": "hmm"}, {"subject": "SSO", "body": "SSO down??"}]}).json()
    assert all(item["result"]["review_queued"] for item in batch["results"] if item["result"]), "batch review tickets are queued too"
    items = {item.ticket_id: item for item in _pending(url)}
    assert len(items) == 4 and {"T-3", "T-1"} <= set(items), f"every review ticket should be in the store: {sorted(items)}"
    assert items["T-3"].model_version == body["model_version"] and items["T-3"].model_label == body["label"], "the prediction is stored"
    assert SECRET_MAIL not in items["T-3"].body, "the queue keeps no e-mail address"
    client.post("/v1/predict", json=ticket)
    assert len(_pending(url)) == 4, "the same ticket id sent again updates its entry instead of adding one"


def test_auto_routed_tickets_are_not_queued(make_client: ClientFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    make_client(database_url=url, **ROUTE_ALL).post("/v1/predict", json=DELIVERY_SV)
    assert _pending(url) == [], "a ticket routed to a label does not go to the review queue"


def _outage(tmp_path: Path) -> tuple[str, Path]:
    """A SQLite URL whose file path is a directory: the database cannot be opened until it is removed."""
    blocker = tmp_path / "db" / "reviews.db"
    blocker.mkdir(parents=True)
    return f"sqlite:///{blocker}", blocker


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_outage_buffers_items_and_flushes_them_when_the_database_is_back(make_client: ClientFactory, tmp_path: Path) -> None:
    url, blocker = _outage(tmp_path)
    client: TestClient = make_client(database_url=url, review_retry_interval=0.1, **REVIEW_ALL)
    body = client.post("/v1/predict", json=SUPPORT_SV).json()
    assert body["route"] == "review", "the ticket should still be predicted while the database is down"
    assert body["review_queued"] is False and "waits in the retry buffer" in body["warning"], f"the response should say it is buffered: {body}"
    client.post("/v1/predict/batch", json={"tickets": [DELIVERY_SV]})
    ready = client.get("/readyz").json()
    assert ready["review_store"] == "unavailable" and ready["review_buffer"] == 2, f"readyz should show the buffer: {ready}"
    assert "triage_review_buffer_size 2.0" in client.get("/metrics").text, "the buffer size should be a metric"

    blocker.rmdir()  # the database is back
    assert _wait_for(lambda: client.get("/readyz").json()["review_buffer"] == 0), "the background task should flush the buffer"
    assert sorted(item.ticket_id for item in _pending(url)) == ["T-1", "T-3"], "buffered items should reach the store, none lost"
    after = client.post("/v1/predict", json={**SUPPORT_SV, "id": "T-9"}).json()
    assert after["review_queued"] is True and client.get("/readyz").json()["review_store"] == "ok", "once flushed, items go straight in"


def test_a_full_buffer_turns_review_tickets_away_with_503_and_retry_after(make_client: ClientFactory, tmp_path: Path) -> None:
    url, _ = _outage(tmp_path)
    client = make_client(database_url=url, review_buffer_bytes=2000, review_retry_interval=3, **REVIEW_ALL)
    assert client.post("/v1/predict", json=SUPPORT_SV).json()["review_queued"] is False, "the first ticket waits in the buffer"
    long_ticket = {**SUPPORT_SV, "id": "T-8", "body": SUPPORT_SV["body"] + " Eleverna syns inte." * 150}  # over the 2,000 bytes left
    second = client.post("/v1/predict", json=long_ticket)
    assert second.status_code == 503 and second.json()["error"]["code"] == "review_queue_full", f"a ticket the buffer cannot take is refused: {second.text}"
    assert second.headers["retry-after"] == "3" and "NOT queued" in second.json()["error"]["message"], "the client is told to resend, and when"
    batch = client.post("/v1/predict/batch", json={"tickets": [long_ticket, {"body": ""}]})
    assert batch.status_code == 200 and batch.headers["retry-after"] == "3", f"a batch answers, with Retry-After: {batch.status_code}"
    errors = [item["error"]["code"] if item["error"] else None for item in batch.json()["results"]]
    assert errors == ["review_queue_full", "empty_ticket"] and batch.json()["results"][0]["result"] is None, f"the refused ticket has its error: {errors}"
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready", f"a buffer that refuses makes the service unready: {r.text}"
    assert r.json()["error"]["details"]["review_buffer"] == 1, "readyz details report the buffer"
    assert "triage_review_refused_total 2.0" in client.get("/metrics").text, "refused tickets are counted"


def test_a_store_rejection_is_reported_not_retried(make_client: ClientFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    client = make_client(database_url=url, **REVIEW_ALL)
    with sqlite3.connect(tmp_path / "reviews.db") as connection:  # the table vanishes behind the service's back
        connection.execute("DROP TABLE review_items")
    body = client.post("/v1/predict", json=SUPPORT_SV).json()
    assert body["review_queued"] is False and "could not be queued" in body["warning"], f"the rejection should be reported: {body}"
    assert "run the migrations" in body["warning"], "the warning passes on the store's reason"
    assert "triage_review_enqueue_failures_total 1.0" in client.get("/metrics").text, "rejections are counted"
    assert client.get("/readyz").json()["review_buffer"] == 0, "a rejected item is not buffered: retrying cannot help"
