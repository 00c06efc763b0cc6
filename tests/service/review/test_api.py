"""The review queue's API (`/v1/review`) in-process, on SQLite and on the real PostgreSQL.

Each test gets a fresh database: a SQLite file under tmp_path or a fresh PostgreSQL schema
(the store tests' fixtures); PostgreSQL is skipped, with the reason, only if it does not answer.
"""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from model.data import load_tickets
from service.review.export import export_reviews
from service.review.store import ReviewStore
from service.review.training import EXPORT_COLUMNS
from tests.service.conftest import DELIVERY_EN, DELIVERY_SV, KEYS, PREDICT_KEY, REVIEW_ALL, REVIEW_KEY, SUPPORT_SV, ClientFactory, TestClient

REVIEW = {"X-API-Key": REVIEW_KEY}
PREDICT_ONLY = {"X-API-Key": PREDICT_KEY}
SECRET_PHONE = "070-123 45 67"
CLAIM_TTL = 120


@pytest.fixture(params=["sqlite", "postgresql"])
def review_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty review database: a SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue' / 'reviews.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def api(make_client: ClientFactory, review_db: str) -> TestClient:
    """An app with API keys whose every ticket routes to review, on the test's database."""
    return make_client(database_url=review_db, api_keys=KEYS, claim_ttl_seconds=CLAIM_TTL, **REVIEW_ALL)


def _enqueue(client: TestClient, *tickets: dict[str, str]) -> list[int]:
    ids = []
    for ticket in tickets:
        body = client.post("/v1/predict", json=ticket, headers=REVIEW).json()
        assert body["review_queued"] is True, f"every ticket should be queued for review: {body}"
        ids.append(body["review_item_id"])
    return ids


def _decide(client: TestClient, item_id: int, label: str, reviewer: str = "Anna", **extra: str) -> httpx.Response:
    return client.post(f"/v1/review/items/{item_id}/decision", json={"label": label, "reviewer": reviewer, **extra}, headers=REVIEW)


def test_the_queue_needs_the_review_role(api: TestClient) -> None:
    assert api.get("/v1/review/items").status_code == 401, "no key: 401"
    r = api.get("/v1/review/items", headers=PREDICT_ONLY)
    assert r.status_code == 403 and "'review' role" in r.json()["error"]["message"], f"a predict-only key gets 403: {r.text}"
    assert api.get("/v1/review/export", headers=PREDICT_ONLY).status_code == 403, "the export needs the review role too"


def test_pending_items_are_listed_most_uncertain_first_and_paged(api: TestClient) -> None:
    _enqueue(api, DELIVERY_SV, DELIVERY_EN, {**SUPPORT_SV, "body": SUPPORT_SV["body"] + f" Ring mig på {SECRET_PHONE}."})
    page = api.get("/v1/review/items", headers=REVIEW).json()
    confidences = [item["confidence"] for item in page["items"]]
    assert page["total"] == 3 and confidences == sorted(confidences), f"three items, most uncertain first: {confidences}"
    assert all(SECRET_PHONE not in item["body"] for item in page["items"]), "the queue shows redacted text only"
    second = api.get("/v1/review/items", params={"limit": 2, "offset": 2}, headers=REVIEW).json()
    assert [item["id"] for item in second["items"]] == [page["items"][2]["id"]], "offset 2 with limit 2 gives the third item"
    r = api.get("/v1/review/items", params={"limit": 0}, headers=REVIEW)
    assert r.status_code == 422 and "limit" in r.json()["error"]["message"], f"a bad page size is a 422 naming it: {r.text}"


def test_unknown_ids_are_404(api: TestClient) -> None:
    for r in (api.get("/v1/review/items/999", headers=REVIEW),
              api.post("/v1/review/items/999/claim", json={"reviewer": "Anna"}, headers=REVIEW),
              _decide(api, 999, "support")):
        assert r.status_code == 404 and r.json()["error"]["code"] == "review_item_not_found", f"an unknown id is a 404: {r.text}"


def test_a_claim_holds_the_item_for_the_configured_time(api: TestClient) -> None:
    (item_id,) = _enqueue(api, DELIVERY_SV)
    claimed = api.post(f"/v1/review/items/{item_id}/claim", json={"reviewer": "Anna"}, headers=REVIEW).json()
    left = (datetime.fromisoformat(claimed["claimed_until"]) - datetime.now(UTC)).total_seconds()
    assert claimed["claimed_by"] == "Anna", f"the claim names its reviewer: {claimed}"
    assert CLAIM_TTL - 30 < left <= CLAIM_TTL, f"the claim lasts TRIAGE_CLAIM_TTL_SECONDS ({CLAIM_TTL} s), not {left:.0f} s"
    r = api.post(f"/v1/review/items/{item_id}/claim", json={"reviewer": "Bo"}, headers=REVIEW)
    assert r.status_code == 409 and r.json()["error"]["code"] == "claimed_by_another", f"a held item cannot be claimed by another: {r.text}"
    assert r.json()["error"]["details"]["claimed_by"] == "Anna" and "Anna" in r.json()["error"]["message"], "the 409 says who holds it"
    assert _decide(api, item_id, "delivery", reviewer="Bo").status_code == 409, "nor decided by another"
    assert api.get("/v1/review/items", headers=REVIEW).json()["total"] == 0, "a held item leaves the others' queue"
    assert api.get("/v1/review/items", params={"reviewer": "Anna"}, headers=REVIEW).json()["total"] == 1, "but stays in its holder's"


def test_a_decision_is_recorded_once_and_durably(api: TestClient, review_db: str) -> None:
    (item_id,) = _enqueue(api, DELIVERY_SV)
    r = _decide(api, item_id, "billing")
    assert r.status_code == 422 and "delivery, support" in r.json()["error"]["message"], f"a label outside the model's is a 422: {r.text}"
    r = api.post(f"/v1/review/items/{item_id}/decision", json={"label": "delivery"}, headers=REVIEW)
    assert r.status_code == 422 and "reviewer" in r.json()["error"]["message"], f"a missing reviewer is a 422 naming it: {r.text}"
    r = _decide(api, item_id, "delivery", note=f"Ny skola. Ring {SECRET_PHONE}")
    body = r.json()
    assert r.status_code == 200 and body["decided_label"] == "delivery" and body["decided_by"] == "Anna", f"the decision is recorded: {body}"
    assert SECRET_PHONE not in body["note"], "the note is redacted like ticket text"
    second = _decide(api, item_id, "support", reviewer="Bo")
    error = second.json()["error"]
    assert second.status_code == 409 and error["code"] == "already_decided", f"a second decision is refused: {error}"
    assert error["details"]["decided_by"] == "Anna" and "Anna" in error["message"], "the 409 says who decided first"
    with ReviewStore(review_db) as store:  # a new connection: what was acknowledged is in the database
        stored = store.get(item_id)
    assert (stored.decided_label, stored.decided_by) == ("delivery", "Anna"), "the first decision stands, stored durably"
    assert api.get("/v1/review/items", headers=REVIEW).json()["total"] == 0, "a decided item leaves the queue"


def test_concurrent_decisions_exactly_one_wins(api: TestClient) -> None:
    (item_id,) = _enqueue(api, SUPPORT_SV)
    agents = 8
    start = threading.Barrier(agents)
    statuses: list[int] = []

    def decide(n: int) -> None:
        start.wait()
        statuses.append(_decide(api, item_id, "support" if n % 2 else "delivery", reviewer=f"agent-{n}").status_code)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * (agents - 1), f"exactly one decision wins, the rest get 409: {statuses}"
    winner = api.get(f"/v1/review/items/{item_id}", headers=REVIEW).json()
    assert winner["decided_by"].startswith("agent-"), f"the stored decision is the winner's: {winner}"


def test_export_is_the_cli_training_file_with_the_agreement(api: TestClient, review_db: str, tmp_path: Path,
                                                             make_client: ClientFactory) -> None:
    agreed, overruled, pending = _enqueue(api, DELIVERY_SV, SUPPORT_SV, DELIVERY_EN)
    model_labels = {i: api.get(f"/v1/review/items/{i}", headers=REVIEW).json()["model_label"] for i in (agreed, overruled)}
    other = {"delivery": "support", "support": "delivery"}
    assert _decide(api, agreed, model_labels[agreed]).status_code == 200, "first decision"
    assert _decide(api, overruled, other[model_labels[overruled]]).status_code == 200, "second decision"

    r = api.get("/v1/review/export", headers=REVIEW)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), f"the export is a CSV: {r.headers}"
    assert r.headers["x-review-count"] == "2" and r.headers["x-review-agreement"] == "0.5000", f"the headers summarise it: {r.headers}"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0]) == EXPORT_COLUMNS and len(rows) == 2, f"the CLI's ticket columns, one row per decision: {rows}"
    assert {row["id"] for row in rows} == {DELIVERY_SV["id"], SUPPORT_SV["id"]}, "only decided items are exported"
    path = tmp_path / "export.csv"
    path.write_text(r.text, encoding="utf-8")
    assert len(load_tickets([path])) == 2, "`triage train --data` accepts the export"
    export_reviews(review_db, tmp_path / "cli.csv")
    assert (tmp_path / "cli.csv").read_text(encoding="utf-8") == r.text, "the API and `triage export-reviews` write the same file"

    summary = api.get("/v1/review/summary", headers=REVIEW).json()
    assert (summary["pending"], summary["decided"], summary["agreement"]) == (1, 2, 0.5), f"the summary counts and agrees: {summary}"
    metrics = api.get("/metrics").text
    assert "triage_review_agreement 0.5" in metrics, "the agreement is a metric"
    assert 'triage_review_decisions{label="delivery"}' in metrics, "decisions per label are a metric"
    restarted = make_client(database_url=review_db, api_keys=KEYS, **REVIEW_ALL)
    assert "triage_review_agreement 0.5" in restarted.get("/metrics").text, "a restarted service reads the agreement at start-up"
    assert pending not in (agreed, overruled), "the third item stays pending"


@pytest.mark.parametrize("down_url", ["sqlite", "postgresql+psycopg://postgres@127.0.0.1:1/test"])
def test_an_unavailable_database_is_a_503_that_says_nothing_was_recorded(make_client: ClientFactory, tmp_path: Path, down_url: str) -> None:
    if down_url == "sqlite":  # a directory where the database file should be: it cannot be opened
        (tmp_path / "db" / "reviews.db").mkdir(parents=True)
        down_url = f"sqlite:///{tmp_path / 'db' / 'reviews.db'}"
    client = make_client(database_url=down_url, api_keys=KEYS)
    for r in (client.get("/v1/review/items", headers=REVIEW), _decide(client, 1, "support"), client.get("/v1/review/export", headers=REVIEW)):
        error = r.json()["error"]
        assert r.status_code == 503 and error["code"] == "review_store_unavailable", f"a down database is a 503: {r.text}"
        assert "unavailable" in error["message"] and "try again" in error["message"], f"the message says what happened: {error}"
    assert "nothing was recorded" in _decide(client, 1, "support").json()["error"]["message"], "a refused decision says so"


def test_openapi_documents_every_review_endpoint_and_its_errors(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    review = {path: ops for path, ops in paths.items() if path.startswith("/v1/review")}
    assert set(review) == {"/v1/review/items", "/v1/review/items/{item_id}", "/v1/review/items/{item_id}/claim",
                           "/v1/review/items/{item_id}/decision", "/v1/review/summary", "/v1/review/export"}, f"{sorted(review)}"
    for path, ops in review.items():
        for method, op in ops.items():
            assert op.get("description", "").endswith("."), f"{method.upper()} {path} needs a one-sentence docstring"
            assert {"401", "403", "503"} <= set(op["responses"]), f"{method.upper()} {path} documents its auth and database errors"
    decision = review["/v1/review/items/{item_id}/decision"]["post"]["responses"]
    assert {"404", "409", "422"} <= set(decision), f"the decision documents 404, 409 and 422: {sorted(decision)}"
    assert "text/csv" in review["/v1/review/export"]["get"]["responses"]["200"]["content"], "the export is documented as CSV"
    assert not any(path.startswith("/review") for path in paths), "the web page is not part of the API schema"
