"""Blind audits in the review store, on SQLite and on PostgreSQL: how they are queued, replaced,
ordered, and counted into live precision."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa

from model.data import load_tickets
from service.review.store import ReviewStore
from service.review.training import export_difficulty
from tests.service.review.review_store_helpers import FakeClock, ItemFactory

V1, V2 = "20250301-0001", "20250401-0002"


def _audit(make_item: ItemFactory, ticket_id: str, label: str = "delivery", confidence: float = 0.97, version: str = V1):
    other = "support" if label == "delivery" else "delivery"
    return make_item(ticket_id=ticket_id, model_label=label, confidence=confidence, probabilities={label: confidence, other: 1 - confidence},
                     model_version=version, audit=True)


def test_an_audit_is_stored_as_one(store: ReviewStore, make_item: ItemFactory, raw_engine: sa.Engine) -> None:
    item = store.enqueue(_audit(make_item, "A-1"))
    assert item.audit and item.is_blind, f"an audit is stored as one and is blind until decided: {item}"
    assert not store.enqueue(make_item(ticket_id="R-1")).audit, "an item routed to review is not an audit"
    with raw_engine.connect() as connection:
        stored = dict(connection.execute(sa.text("SELECT ticket_id, audit FROM review_items")).all())
    assert {k: bool(v) for k, v in stored.items()} == {"A-1": True, "R-1": False}, f"the audit column holds the mark: {stored}"
    decided = store.decide(item.id, "support", "Anna")
    assert not decided.is_blind and decided.model_agreed is False, "a decided audit is no longer blind, and says the model disagreed"


def test_an_audit_never_replaces_an_item_routed_to_review(store: ReviewStore, make_item: ItemFactory) -> None:
    review = store.enqueue(make_item(ticket_id="T-9", model_label="support", confidence=0.6))
    again = store.enqueue(_audit(make_item, "T-9", label="delivery"))
    assert (again.id, again.audit, again.model_label, again.confidence) == (review.id, False, "support", 0.6), \
        f"an agent may have seen the model's view of a review item, so an audit must not turn it blind: {again}"


def test_a_ticket_routed_to_review_replaces_an_undecided_audit(store: ReviewStore, make_item: ItemFactory) -> None:
    audit = store.enqueue(_audit(make_item, "T-8"))
    review = store.enqueue(make_item(ticket_id="T-8", model_label="support", confidence=0.55))
    assert (review.id, review.audit, review.model_label) == (audit.id, False, "support"), \
        f"the model is now unsure of the ticket: it is an ordinary review item with the model's view: {review}"


def test_a_retried_audit_updates_its_one_item_and_a_decided_one_stays(store: ReviewStore, make_item: ItemFactory) -> None:
    first = store.enqueue(_audit(make_item, "A-2", confidence=0.91))
    second = store.enqueue(_audit(make_item, "A-2", confidence=0.93))
    assert second.id == first.id and second.confidence == 0.93 and store.count_pending() == 1, "a retry updates the same item"
    store.decide(first.id, "delivery", "Anna")
    third = store.enqueue(_audit(make_item, "A-2", confidence=0.99))
    assert third.confidence == 0.93 and third.decided_label == "delivery", "a decided audit is never reopened or rewritten"


def test_audits_wait_behind_review_items_oldest_first(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    ids = {}
    for name, item in (("audit-old-sure", _audit(make_item, "A-old", confidence=0.99)), ("review-sure", make_item(ticket_id="R-a", confidence=0.7)),
                       ("audit-new-unsure", _audit(make_item, "A-new", confidence=0.81)), ("review-unsure", make_item(ticket_id="R-b", confidence=0.52))):
        ids[store.enqueue(item).id] = name
        clock.advance(minutes=1)
    order = [ids[item.id] for item in store.list_pending()]
    assert order == ["review-unsure", "review-sure", "audit-old-sure", "audit-new-unsure"], \
        f"review items first (most uncertain first), then audits by age, not by confidence: {order}"


def test_audit_counts_are_per_label_of_the_version_in_service_within_the_window(store: ReviewStore, make_item: ItemFactory,
                                                                                  clock: FakeClock) -> None:
    def audit_decided(ticket_id: str, label: str, decided: str, version: str = V1) -> None:
        store.decide(store.enqueue(_audit(make_item, ticket_id, label=label, version=version)).id, decided, "Anna")

    audit_decided("old", "delivery", "support")  # falls out of a 30-day window below
    clock.advance(days=31)
    audit_decided("d1", "delivery", "delivery")
    audit_decided("d2", "delivery", "support")
    audit_decided("d3", "delivery", "delivery")
    audit_decided("s1", "support", "support")
    audit_decided("v2", "support", "delivery", version=V2)  # another model version
    store.decide(store.enqueue(make_item(ticket_id="review", model_label="support")).id, "delivery", "Anna")  # not an audit
    store.enqueue(_audit(make_item, "pending", label="support"))  # not decided
    assert store.audit_counts(30, V1) == {"delivery": (3, 2), "support": (1, 1)}, "only V1's decided audits of the last 30 days count"
    assert store.audit_counts(40, V1) == {"delivery": (4, 2), "support": (1, 1)}, "a longer window reaches the older audit"
    assert store.audit_counts(30, V2) == {"support": (1, 0)}, "each version is measured on its own audits"
    assert store.count_pending_audits() == 1, "one audit waits for a decision"
    with pytest.raises(ValueError, match="window_days"):
        store.audit_counts(0, V1)


def test_export_marks_audits_and_their_difficulty(store: ReviewStore, make_item: ItemFactory, tmp_path: Path) -> None:
    right = store.decide(store.enqueue(_audit(make_item, "A-right", label="delivery")).id, "delivery", "Anna")
    wrong = store.decide(store.enqueue(_audit(make_item, "A-wrong", label="delivery")).id, "support", "Anna")
    review = store.decide(store.enqueue(make_item(ticket_id="R-1")).id, "support", "Anna")
    assert [export_difficulty(i) for i in (right, wrong, review)] == ["normal", "hard", "hard"], \
        "a sure and right audit is an ordinary ticket; a sure and wrong one, like an unsure one, is hard"
    summary = store.export_training_file(tmp_path / "reviews.csv")
    with summary.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    marks = {row["id"]: (row["audit"], row["difficulty"]) for row in rows}
    assert marks == {"A-right": ("true", "normal"), "A-wrong": ("true", "hard"), "R-1": ("false", "hard")}, \
        f"each row says whether it was an audit: {marks}"
    tickets = load_tickets([summary.path])  # what `triage train --data` reads
    assert sorted(tickets["label"]) == ["delivery", "support", "support"], "training reads audits like any other decision"
