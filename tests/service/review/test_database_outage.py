"""The review database goes away under a running service (real PostgreSQL) and comes back.

While it is gone: predictions keep answering and tickets routed to review wait in the retry
buffer (the response says so), the review API answers 503 saying nothing was recorded, and the
review page shows a 503 page. Once connections are allowed again, the service recovers by itself:
the buffered items reach the database, none lost or doubled, and the review endpoints answer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
import sqlalchemy as sa

from service.review.store import ReviewStore
from tests.service.conftest import DELIVERY_EN, DELIVERY_SV, KEYS, PREDICT_KEY, REVIEW_ALL, REVIEW_KEY, SUPPORT_SV, ClientFactory
from tests.service.review.conftest import POSTGRES_URL

ADMIN_CONNINFO = sa.make_url(POSTGRES_URL).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
PREDICT, REVIEW = {"X-API-Key": PREDICT_KEY}, {"X-API-Key": REVIEW_KEY}


def _admin(sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=3) as connection:
        cursor = connection.execute(sql, params or None)  # type: ignore[call-overload]
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def outage_database() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A dedicated database (dropped afterwards): its URL, a function that takes it away and one that brings it back."""
    try:
        _admin("SELECT 1")
    except psycopg.Error as e:
        pytest.skip(f"PostgreSQL at {ADMIN_CONNINFO} did not answer: {str(e).splitlines()[0]}")
    name = f"triage_outage_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')

    def take_away() -> None:
        _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        _admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", name)

    def bring_back() -> None:
        _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), take_away, bring_back
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_predictions_go_on_and_the_service_recovers_when_the_database_returns(make_client: ClientFactory,
                                                                              outage_database: tuple[str, Callable[[], None], Callable[[], None]]) -> None:
    url, take_away, bring_back = outage_database
    client = make_client(database_url=url, api_keys=KEYS, review_retry_interval=0.2, **REVIEW_ALL)
    before = client.post("/v1/predict", json={**SUPPORT_SV, "id": "before"}, headers=PREDICT).json()
    assert before["review_queued"] is True, f"with the database up a review ticket is queued at once: {before}"
    form = client.get("/review/sign-in").text
    csrf = form.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/review/sign-in", data={"csrf": csrf, "name": "Anna", "key": REVIEW_KEY}, follow_redirects=False).status_code == 303

    take_away()
    during = [client.post("/v1/predict", json={**t, "id": f"during-{i}"}, headers=PREDICT) for i, t in enumerate((SUPPORT_SV, DELIVERY_SV))]
    batch = client.post("/v1/predict/batch", json={"tickets": [{**DELIVERY_EN, "id": "during-batch"}]}, headers=PREDICT)
    for r in (*during, batch):
        assert r.status_code == 200, f"predictions keep answering while the database is gone: {r.status_code} {r.text}"
    answers = [r.json() for r in during] + [batch.json()["results"][0]["result"]]
    for answer in answers:
        assert answer["route"] == "review" and answer["review_queued"] is False, f"the ticket is not in the database yet: {answer}"
        assert "waits in the retry buffer" in answer["warning"], f"the response says the ticket is buffered, not dropped: {answer['warning']}"
    ready = client.get("/readyz").json()
    assert ready["review_store"] == "unavailable" and ready["review_buffer"] == 3, f"readyz shows the outage and the buffer: {ready}"

    for method, path, body in (("GET", "/v1/review/items", None), ("GET", "/v1/review/summary", None),
                               ("POST", f"/v1/review/items/{before['review_item_id']}/decision", {"label": "support", "reviewer": "Anna"})):
        r = client.request(method, path, headers=REVIEW, json=body)
        error = r.json()["error"]
        assert r.status_code == 503 and error["code"] == "review_store_unavailable", f"{method} {path} needs the database: {r.status_code} {r.text}"
        assert "unavailable" in error["message"] and "try again" in error["message"], f"the message says what happened and what to do: {error}"
    page = client.get("/review")
    assert page.status_code == 503, f"the review page says the queue is unavailable: {page.status_code}"

    bring_back()
    assert _wait_for(lambda: client.get("/readyz").json()["review_buffer"] == 0), "the buffer is flushed once the database is back"
    assert client.get("/readyz").json()["review_store"] == "ok", "readyz is back to ok"
    with ReviewStore(url) as store:
        queued = sorted(item.ticket_id for item in store.list_pending(limit=50))
    assert queued == ["before", "during-0", "during-1", "during-batch"], f"every buffered ticket reached the database once: {queued}"
    listed = client.get("/v1/review/items", headers=REVIEW)
    assert listed.status_code == 200 and listed.json()["total"] == 4, f"the review API answers again by itself: {listed.text}"
    decided = client.post(f"/v1/review/items/{before['review_item_id']}/decision", json={"label": "support", "reviewer": "Anna"}, headers=REVIEW)
    assert decided.status_code == 200, f"decisions are recorded again: {decided.text}"
    after = client.post("/v1/predict", json={**SUPPORT_SV, "id": "after"}, headers=PREDICT).json()
    assert after["review_queued"] is True and isinstance(after["review_item_id"], int), "new review tickets go straight to the database again"
    assert client.get("/review").status_code == 200, "the review page works again"
