"""Queueing, upserting, ordering and claiming review items."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from model.redact import EMAIL_TOKEN, PERSONNUMMER_TOKEN, PHONE_TOKEN, is_personnummer
from service.review.errors import ClaimConflict, DecisionConflict, ItemNotFound
from service.review.store import ReviewStore
from tests.service.review.review_store_helpers import FakeClock, ItemFactory

PERSONNUMMER = "19811218-9876"


def test_enqueue_stores_redacted_text(store: ReviewStore, raw_engine: sa.Engine, make_item: ItemFactory) -> None:
    assert is_personnummer(PERSONNUMMER), "the test needs a valid personnummer"
    item = store.enqueue(
        make_item(
            subject="Konto för anna.svensson@skola.se",
            body=f"Eleven med personnummer {PERSONNUMMER} saknar konto. Ring mig på 070-123 45 67 eller mejla it@kommun.se.",
        )
    )
    with raw_engine.connect() as connection:
        subject, body = connection.execute(sa.text("SELECT subject, body FROM review_items WHERE id = :id"), {"id": item.id}).one()
    for text in (subject, body, item.subject, item.body):
        for secret in ("anna.svensson@skola.se", "it@kommun.se", PERSONNUMMER, "070-123 45 67"):
            assert secret not in text, f"stored text should not contain {secret!r}: {text!r}"
    assert EMAIL_TOKEN in subject, f"the e-mail in the subject should be replaced by {EMAIL_TOKEN}: {subject!r}"
    for token in (EMAIL_TOKEN, PHONE_TOKEN, PERSONNUMMER_TOKEN):
        assert token in body, f"the body should carry {token} where personal data was: {body!r}"


def test_enqueue_returns_plain_utc_data(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    item = store.enqueue(make_item(ticket_id="T-1"))
    assert (item.ticket_id, item.model_label, item.confidence) == ("T-1", "support", 0.55), f"fields should round-trip, got {item}"
    assert item.probabilities == {"support": 0.55, "delivery": 0.45}, f"probabilities should round-trip, got {item.probabilities}"
    assert item.created_at == clock.now and item.created_at.utcoffset() == timedelta(0), f"created_at should be the clock's UTC time: {item}"
    assert item.language == "sv", f"a Swedish ticket without a language should be detected as 'sv', got {item.language}"
    assert store.get(item.id) == item, "get() should return what enqueue() returned"


def test_same_ticket_id_updates_instead_of_queueing_twice(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    first = store.enqueue(make_item(ticket_id="T-7", body="Första versionen"))
    clock.advance(minutes=5)
    second = store.enqueue(
        make_item(
            ticket_id="T-7",
            body="Andra versionen",
            confidence=0.6,
            probabilities={"support": 0.4, "delivery": 0.6},
            model_label="delivery",
            model_version="v2",
        )
    )
    assert second.id == first.id, "a re-sent ticket should update its entry, not create another"
    assert store.count_pending() == 1, "the ticket should be queued once"
    assert (second.body, second.confidence, second.model_label, second.model_version) == ("Andra versionen", 0.6, "delivery", "v2"), (
        f"the entry should be updated: {second}"
    )
    assert second.probabilities == {"support": 0.4, "delivery": 0.6}, f"probabilities should be updated: {second.probabilities}"
    assert second.created_at == first.created_at, "the queue place (created_at) should stay"
    assert second.updated_at == first.updated_at + timedelta(minutes=5), "updated_at should be the time of the re-send"


def test_decided_ticket_is_not_reopened(store: ReviewStore, make_item: ItemFactory) -> None:
    item = store.enqueue(make_item(ticket_id="T-9", body="original"))
    decided = store.decide(item.id, "delivery", "agent-a")
    again = store.enqueue(make_item(ticket_id="T-9", body="sent again", confidence=0.5))
    assert again == decided, "re-sending a decided ticket should return it unchanged"
    assert store.count_pending() == 0, "a decided ticket should not come back to the queue"


def test_missing_ticket_ids_are_generated_and_distinct(store: ReviewStore, make_item: ItemFactory) -> None:
    a, b = store.enqueue(make_item()), store.enqueue(make_item())
    assert a.ticket_id and b.ticket_id and a.ticket_id != b.ticket_id, f"generated ticket ids should differ: {a.ticket_id}, {b.ticket_id}"
    assert store.count_pending() == 2, "two tickets without id are two queue entries"


def test_pending_order_is_least_confident_first_then_oldest(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    for ticket_id, confidence in [
        ("old-60", 0.60),
        ("old-52", 0.52),
        ("mid-70", 0.70),
        ("new-52", 0.52),
        ("decided", 0.50),
        ("claimed", 0.51),
    ]:
        store.enqueue(make_item(ticket_id=ticket_id, confidence=confidence))
        clock.advance(seconds=10)
    by_ticket = {i.ticket_id: i for i in store.list_pending()}
    store.decide(by_ticket["decided"].id, "support", "agent-a")
    store.claim(by_ticket["claimed"].id, "agent-b")
    order = [i.ticket_id for i in store.list_pending()]
    assert order == ["old-52", "new-52", "old-60", "mid-70"], f"pending should be by confidence, then age, without decided/claimed items: {order}"
    assert store.count_pending() == 4, "count_pending should count what list_pending pages through"
    page = [i.ticket_id for i in store.list_pending(limit=2, offset=1)]
    assert page == ["new-52", "old-60"], f"limit/offset should page through the same order: {page}"
    mine = [i.ticket_id for i in store.list_pending(reviewer="agent-b")]
    assert mine[0] == "claimed", f"a reviewer should see the items they claimed: {mine}"


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (501, 0), (10, -1)])
def test_bad_paging_is_a_value_error(store: ReviewStore, limit: int, offset: int) -> None:
    with pytest.raises(ValueError, match="limit|offset"):
        store.list_pending(limit=limit, offset=offset)


def test_claim_holds_an_item_until_it_expires(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    item = store.enqueue(make_item())
    claimed = store.claim(item.id, "agent-a")
    assert claimed.claimed_by == "agent-a" and claimed.claimed_until == clock.now + timedelta(seconds=60), f"claim should last the TTL: {claimed}"
    assert store.list_pending() == [], "a claimed item should leave the shared queue"
    with pytest.raises(ClaimConflict, match="agent-a"):
        store.claim(item.id, "agent-b")
    with pytest.raises(ClaimConflict, match="agent-a"):
        store.decide(item.id, "support", "agent-b")
    clock.advance(seconds=30)
    assert store.claim(item.id, "agent-a").claimed_until == clock.now + timedelta(seconds=60), "claiming again should extend the hold"
    clock.advance(seconds=61)
    assert [i.id for i in store.list_pending()] == [item.id], "an expired claim should return the item to the queue"
    assert store.claim(item.id, "agent-b").claimed_by == "agent-b", "another reviewer may take an expired claim"


def test_claim_expires_in_real_time(database_url: str, make_item: ItemFactory) -> None:
    store = ReviewStore(database_url, claim_ttl_seconds=1)
    store.migrate()
    item = store.enqueue(make_item())
    store.claim(item.id, "agent-a")
    assert store.count_pending() == 0, "the claimed item should be out of the queue"
    time.sleep(1.2)
    assert store.count_pending() == 1, "after the 1-second TTL the item should be back in the queue"
    store.close()


def test_claiming_decided_or_missing_items(store: ReviewStore, make_item: ItemFactory) -> None:
    item = store.enqueue(make_item())
    store.decide(item.id, "support", "agent-a")
    with pytest.raises(DecisionConflict, match="agent-a"):
        store.claim(item.id, "agent-b")
    with pytest.raises(ItemNotFound):
        store.claim(item.id + 1000, "agent-b")
    with pytest.raises(ItemNotFound):
        store.get(item.id + 1000)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": float("nan")}, "confidence"),
        ({"subject": " ", "body": ""}, "subject or a body"),
        ({"language": "de"}, "language"),
        ({"ticket_id": "x" * 201}, "ticket_id"),
        ({"probabilities": {}}, "probabilities"),
        ({"model_label": ""}, "model_label"),
    ],
)
def test_invalid_new_items_say_what_to_fix(make_item: ItemFactory, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_item(**overrides)


@pytest.mark.parametrize("reviewer", ["", "   ", "r" * 101])
def test_claim_needs_a_reviewer_name(store: ReviewStore, make_item: ItemFactory, reviewer: str) -> None:
    item = store.enqueue(make_item())
    with pytest.raises(ValueError, match="reviewer"):
        store.claim(item.id, reviewer)


def test_release_returns_a_skipped_item_to_the_queue_at_once(store: ReviewStore, make_item: ItemFactory) -> None:
    item = store.enqueue(make_item())
    store.claim(item.id, "agent-a")
    assert store.release(item.id, "agent-b") is False, "only the holder can give an item back"
    assert store.list_pending() == [], "still held by agent-a"
    assert store.release(item.id, "agent-a") is True
    assert [i.id for i in store.list_pending()] == [item.id], "released: back in the shared queue without waiting for the TTL"
    assert store.claim(item.id, "agent-b").claimed_by == "agent-b", "another reviewer can take it now"
    store.decide(item.id, "support", "agent-b")
    assert store.release(item.id, "agent-b") is False, "a decided item is left as it is"
    assert store.get(item.id).decided_label == "support"
