"""Audits are decided blind: neither the review API nor the review page shows the model's label,
probabilities or highlighted terms before the decision is saved; afterwards both say whether the
model agreed. Items routed to review keep their page."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from service.review.items import NewReviewItem
from service.review.store import ReviewStore
from tests.service.conftest import DELIVERY_SV, KEYS, REVIEW_KEY, ROUTE_ALL, ClientFactory, TestClient

REVIEW = {"X-API-Key": REVIEW_KEY}
MODEL_VIEW = ("model_label", "confidence", "probabilities")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'q' / 'reviews.db'}"


@pytest.fixture
def site(make_client: ClientFactory, db_url: str) -> TestClient:
    """An app that routes every ticket by itself and audits every one (API keys on)."""
    return make_client(database_url=db_url, api_keys=KEYS, audit_rate=1.0, **ROUTE_ALL)


def _audit(client: TestClient, ticket: dict[str, str] = DELIVERY_SV) -> tuple[dict[str, Any], int]:
    """Route a ticket (audited, at rate 1): the prediction and the audit's item id."""
    routed = client.post("/v1/predict", json=ticket, headers=REVIEW).json()
    assert routed["route"] in ("delivery", "support"), f"the ticket is routed by the model: {routed}"
    [item] = [i for i in client.get("/v1/review/items", headers=REVIEW).json()["items"] if i["ticket_id"] == ticket["id"]]
    return routed, item["id"]


def _review_item(db_url: str) -> int:
    """An item routed to review, queued beside the audits."""
    with ReviewStore(db_url) as store:
        return store.enqueue(NewReviewItem(ticket_id="R-1", subject="Fråga", body="Hur lång tid tar synken?", model_label="support",
                                           confidence=0.61, probabilities={"support": 0.61, "delivery": 0.39}, model_version="v")).id


def _shows_no_model_view(item: dict[str, Any], routed: dict[str, Any], where: str) -> None:
    assert item["audit"] is True and all(item[k] is None for k in MODEL_VIEW), f"{where}: the model's view is withheld: {item}"
    raw = json.dumps(item)
    assert str(routed["confidence"]) not in raw and str(routed["probabilities"][routed["label"]]) not in raw, f"{where}: no number leaks"


def test_the_api_withholds_the_model_view_of_an_audit_until_it_is_decided(site: TestClient, db_url: str) -> None:
    routed, audit_id = _audit(site)
    review_id = _review_item(db_url)
    listed = site.get("/v1/review/items", headers=REVIEW).json()["items"]
    assert [i["id"] for i in listed] == [review_id, audit_id], "the item routed to review comes first, the audit after it"
    assert listed[0]["model_label"] == "support" and listed[0]["confidence"] == 0.61, "an item routed to review shows the model's view"
    _shows_no_model_view(listed[1], routed, "the list")
    _shows_no_model_view(site.get(f"/v1/review/items/{audit_id}", headers=REVIEW).json(), routed, "the item")
    _shows_no_model_view(site.post(f"/v1/review/items/{audit_id}/claim", json={"reviewer": "Anna"}, headers=REVIEW).json(), routed, "the claim")

    other = "support" if routed["label"] == "delivery" else "delivery"
    decided = site.post(f"/v1/review/items/{audit_id}/decision", json={"label": other, "reviewer": "Anna"}, headers=REVIEW).json()
    assert (decided["model_label"], decided["confidence"]) == (routed["label"], routed["confidence"]), f"the decision reveals the view: {decided}"
    assert decided["probabilities"] == routed["probabilities"] and decided["model_agreed"] is False, "and says the model disagreed"
    again = site.get(f"/v1/review/items/{audit_id}", headers=REVIEW).json()
    assert again["model_label"] == routed["label"] and again["model_agreed"] is False, "a decided audit shows its view to everyone"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every page with a form carries a CSRF token"
    return found.group(1)


def _sign_in(client: TestClient) -> None:
    form = {"csrf": _csrf(client.get("/review/sign-in").text), "name": "Anna", "key": REVIEW_KEY}
    assert client.post("/review/sign-in", data=form, follow_redirects=False).status_code == 303, "the reviewer signs in"


def test_the_page_shows_an_audit_blind_then_whether_the_model_agreed(site: TestClient, db_url: str) -> None:
    routed, audit_id = _audit(site)
    _review_item(db_url)
    _sign_in(site)
    queue = site.get("/review").text
    audit_row = re.search(rf"<tr>(?:(?!</tr>).)*{DELIVERY_SV['id']}(?:(?!</tr>).)*</tr>", queue, re.S)
    assert audit_row and "Stickprov" in audit_row.group(0), "the queue marks the audit"
    assert "pill" not in audit_row.group(0) and "<meter" not in audit_row.group(0), "and shows no guess or confidence for it"

    page = site.get(f"/review/items/{audit_id}").text
    assert "<mark" not in page, "no term is highlighted before the decision"
    assert 'class="probabilities"' not in page and "Modellens sannolikheter" not in page, "no probabilities before the decision"
    assert "Modellen lutar åt" not in page and "details class=\"steps\" open" not in page, "nothing hints at the model's label"
    assert "Stickprov: modellen skickade det här ärendet vidare själv" in page, "the agent is told why the view is missing"

    r = site.post(f"/review/items/{audit_id}/decide", data={"csrf": _csrf(page), "label": routed["label"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/review/items/{audit_id}", "after an audit the same ticket is shown again"
    after = site.get(r.headers["location"]).text
    assert "Modellen höll med" in after and 'class="probabilities"' in after, "now it shows that the model agreed, and its view"
    assert re.search(r'<mark class="label-\d">', after), "and the terms behind the model's label"


def test_a_disagreeing_model_is_said_so_with_what_to_do(site: TestClient) -> None:
    routed, audit_id = _audit(site)
    _sign_in(site)
    page = site.get(f"/review/items/{audit_id}").text
    other = "support" if routed["label"] == "delivery" else "delivery"
    after = site.post(f"/review/items/{audit_id}/decide", data={"csrf": _csrf(page), "label": other}).text
    assert "Modellen höll inte med" in after and "Flytta ärendet till rätt kö i helpdesken" in after, "a wrong auto-route is pointed out"


def test_an_item_routed_to_review_keeps_its_page(site: TestClient, db_url: str) -> None:
    review_id = _review_item(db_url)
    _sign_in(site)
    page = site.get(f"/review/items/{review_id}").text
    assert 'class="probabilities"' in page and "Modellen lutar åt Support (61\u00a0%)" in page, "the model's guess and probabilities"
    assert "Stickprov" not in page and 'details class="steps" open' in page, "no audit note; the guessed label's next steps unfolded"


def test_the_queue_page_shows_live_precision(site: TestClient, db_url: str) -> None:
    routed, audit_id = _audit(site)
    site.post(f"/v1/review/items/{audit_id}/decision", json={"label": routed["label"], "reviewer": "Anna"}, headers=REVIEW)
    _sign_in(site)
    queue = site.get("/review").text
    section = queue[queue.index('class="live-precision"'):]
    assert "Automatisk routning, mätt med stickprov" in section and "Mål: 95\u00a0%" in section, "a section with the target"
    assert f'data-label="{routed["label"]}"><strong>' in section and "100\u00a0% rätt" in section and "1 av 1 stickprov" in section, \
        f"the label's estimate, interval and count: {section[:600]}"
    assert "inga avgjorda stickprov ännu" in section, "a label without audits says so"


def test_decisions_of_audits_are_exported_as_such(site: TestClient) -> None:
    routed, audit_id = _audit(site)
    site.post(f"/v1/review/items/{audit_id}/decision", json={"label": routed["label"], "reviewer": "Anna"}, headers=REVIEW)
    export = site.get("/v1/review/export", headers=REVIEW)
    assert export.status_code == 200, f"the export is served: {export.text[:300]}"
    [row] = csv.DictReader(io.StringIO(export.text))
    assert (row["id"], row["label"], row["audit"], row["difficulty"]) == (DELIVERY_SV["id"], routed["label"], "true", "normal"), \
        f"the export marks the audit, one the model got right as an ordinary ticket: {row}"
