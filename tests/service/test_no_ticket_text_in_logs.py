"""The service logs no ticket text, personal data or key at all, whatever happens: every endpoint
and page, bad input, refused decisions and a database outage, with every logger at DEBUG level.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.logs import JsonFormatter
from tests.service.conftest import ADMIN_KEY, KEYS, PREDICT_KEY, REVIEW_ALL, REVIEW_KEY, ROUTE_ALL, ClientFactory, TestClient

MARKER = "Xylofonkatalog"  # a word no log line has any business containing
MAIL, PHONE, PERSONNUMMER = "kerstin.lund@ekbacken.example.se", "070-987 65 43", "811218-9876"
TICKET = {"id": "LOG-1", "subject": f"Synken {MARKER}", "body": f"Hej, synken har stannat. {MARKER} Ring {PHONE}, mejla {MAIL}, elev {PERSONNUMMER}"}
SECRETS = (MARKER, MAIL, PHONE, PERSONNUMMER, "987 65 43", "ekbacken", PREDICT_KEY, REVIEW_KEY, ADMIN_KEY)


@pytest.fixture
def everything_logged() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted as the service formats its logs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    # httpx logs the test client's own requests (the client side of the conversation, not the service).
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def _exercise(client: TestClient) -> None:
    """Call every endpoint and page with the ticket, including ways to fail."""
    predict, review, admin = ({"X-API-Key": k} for k in (PREDICT_KEY, REVIEW_KEY, ADMIN_KEY))
    item_id = client.post("/v1/predict", json=TICKET, headers=predict).json()["review_item_id"]
    client.post("/v1/predict/batch", json={"tickets": [TICKET, {**TICKET, "id": "LOG-2"}, {"body": MARKER, "extra": MARKER}, MARKER]}, headers=predict)
    client.post("/v1/predict", content=f'{{"body": "{MARKER}'.encode(), headers={**predict, "content-type": "application/json"})
    client.post("/v1/predict", json={"body": MARKER, "unknown": MARKER}, headers=predict)
    client.post("/v1/predict", content=f"body={MARKER}".encode(), headers={**predict, "content-type": "text/plain"})
    client.post("/v1/predict", json={"body": MARKER * 5000}, headers=predict)
    client.post("/v1/predict", json=TICKET, headers={"X-API-Key": f"{MARKER}-not-a-key-0123456789"})
    client.get("/v1/model", headers=predict)
    client.get("/v1/review/items", headers=review, params={"reviewer": MARKER})
    client.get(f"/v1/review/items/{item_id}", headers=review)
    client.post(f"/v1/review/items/{item_id}/claim", json={"reviewer": "Anna"}, headers=review)
    client.post(f"/v1/review/items/{item_id}/claim", json={"reviewer": MARKER}, headers=review)  # 409: Anna holds it
    client.post(f"/v1/review/items/{item_id}/decision", json={"label": MARKER, "reviewer": "Anna", "note": MARKER}, headers=review)
    client.post(f"/v1/review/items/{item_id}/decision", json={"label": "support", "reviewer": "Anna", "note": f"{MARKER} {MAIL}"}, headers=review)
    client.post(f"/v1/review/items/{item_id}/decision", json={"label": "support", "reviewer": "Anna"}, headers=review)
    client.get("/v1/review/summary", headers=review)
    client.get("/v1/review/export", headers=review)
    client.post("/v1/admin/reload", headers=admin)
    client.get("/readyz")
    client.get("/metrics")
    second = client.post("/v1/predict", json={**TICKET, "id": "LOG-3"}, headers=predict).json()["review_item_id"]
    token = _csrf(client.get("/review/sign-in").text)
    client.post("/review/sign-in", data={"csrf": token, "name": "Anna", "key": REVIEW_KEY})
    client.post("/review/sign-in", data={"csrf": token, "name": MARKER, "key": MARKER})
    client.get("/review")
    token = _csrf(client.get(f"/review/items/{second}").text)
    client.post(f"/review/items/{second}/decide", data={"csrf": token, "label": "support", "note": f"{MARKER} {PHONE}"})
    client.post(f"/review/items/{second}/decide", data={"csrf": MARKER, "label": "support", "note": MARKER})


def _assert_clean(text: str) -> None:
    assert text.strip(), "the calls above should have been logged (access lines at least)"
    for line in text.splitlines():
        json.loads(line)  # every line is one JSON object
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} appears in the log: {[line for line in text.splitlines() if secret in line][:3]}"


def test_no_ticket_text_personal_data_or_key_is_logged(make_client: ClientFactory, tmp_path: Path, everything_logged: io.StringIO) -> None:
    client = make_client(database_url=f"sqlite:///{tmp_path / 'reviews.db'}", api_keys=KEYS, log_level="DEBUG", **REVIEW_ALL)
    _exercise(client)
    _assert_clean(everything_logged.getvalue())


def test_nothing_is_logged_about_a_ticket_during_a_database_outage(make_client: ClientFactory, tmp_path: Path, everything_logged: io.StringIO) -> None:
    blocker = tmp_path / "db" / "reviews.db"
    blocker.mkdir(parents=True)  # a directory where the database file should be: the database cannot be opened
    client = make_client(database_url=f"sqlite:///{blocker}", api_keys=KEYS, review_retry_interval=0.05, **REVIEW_ALL)
    r = client.post("/v1/predict", json=TICKET, headers={"X-API-Key": PREDICT_KEY})
    assert r.status_code == 200 and r.json()["review_queued"] is False, f"the ticket waits in the buffer: {r.text}"
    client.get("/v1/review/items", headers={"X-API-Key": REVIEW_KEY})
    blocker.rmdir()
    client.post("/v1/predict", json={**TICKET, "id": "LOG-4"}, headers={"X-API-Key": PREDICT_KEY})
    _assert_clean(everything_logged.getvalue())
    assert "review store unavailable" in everything_logged.getvalue(), "the outage itself is logged (without the ticket)"


def test_audits_log_no_ticket_text(make_client: ClientFactory, tmp_path: Path, everything_logged: io.StringIO) -> None:
    """Audited tickets, decided through the API and the page, and an audit skipped during an outage."""
    predict, review = {"X-API-Key": PREDICT_KEY}, {"X-API-Key": REVIEW_KEY}
    client = make_client(database_url=f"sqlite:///{tmp_path / 'reviews.db'}", api_keys=KEYS, log_level="DEBUG", audit_rate=1.0, **ROUTE_ALL)
    client.post("/v1/predict", json=TICKET, headers=predict)
    client.post("/v1/predict/batch", json={"tickets": [{**TICKET, "id": "LOG-2"}, {"subject": MARKER, "body": TICKET["body"]}]}, headers=predict)
    first, second, third = (item["id"] for item in client.get("/v1/review/items", headers=review).json()["items"])
    client.get(f"/v1/review/items/{first}", headers=review)
    client.post(f"/v1/review/items/{first}/decision", json={"label": "support", "reviewer": "Anna", "note": MARKER}, headers=review)
    client.get("/v1/review/summary", headers=review)
    token = _csrf(client.get("/review/sign-in").text)
    client.post("/review/sign-in", data={"csrf": token, "name": "Anna", "key": REVIEW_KEY})
    client.get("/review")
    token = _csrf(client.get(f"/review/items/{second}").text)
    client.post(f"/review/items/{second}/decide", data={"csrf": token, "label": "delivery", "note": MARKER})
    client.get(f"/review/items/{third}")
    client.get("/metrics")
    blocker = tmp_path / "down" / "reviews.db"
    blocker.mkdir(parents=True)
    down = make_client(database_url=f"sqlite:///{blocker}", api_keys=KEYS, audit_rate=1.0, review_retry_interval=60, **ROUTE_ALL)
    assert down.post("/v1/predict", json={**TICKET, "id": "LOG-9"}, headers=predict).status_code == 200, "routed although the audit is skipped"
    _assert_clean(everything_logged.getvalue())
