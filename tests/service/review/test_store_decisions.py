"""Deciding review items exactly once, and turning decisions into training data."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from model.data import load_tickets
from model.redact import EMAIL_TOKEN
from service.db.errors import StoreError
from service.review.errors import DecisionConflict, ItemNotFound
from service.review.export import export_reviews, purge_reviews
from service.review.items import ReviewItem
from service.review.store import ReviewStore
from tests.service.review.review_store_helpers import FakeClock, ItemFactory

LABELS = ("support", "delivery")


def test_decide_records_label_reviewer_time_and_redacted_note(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    item = store.enqueue(make_item())
    store.claim(item.id, "agent-a")
    decided = store.decide(item.id, "delivery", "agent-a", note="  Ny skola, se mejl från rektor@skola.se ", allowed_labels=LABELS)
    assert (decided.decided_label, decided.decided_by, decided.decided_at) == ("delivery", "agent-a", clock.now), f"decision fields: {decided}"
    assert decided.note == f"Ny skola, se mejl från {EMAIL_TOKEN}", f"the note should be trimmed and redacted: {decided.note!r}"
    assert decided.claimed_by is None and decided.claimed_until is None, "deciding should release the claim"
    assert store.get(item.id) == decided, "the decision should be stored"
    assert store.count_pending() == 0, "a decided item should leave the queue"


def test_second_decision_conflicts_and_names_the_first(store: ReviewStore, make_item: ItemFactory) -> None:
    item = store.enqueue(make_item())
    first = store.decide(item.id, "support", "agent-a")
    with pytest.raises(DecisionConflict) as raised:
        store.decide(item.id, "delivery", "agent-b")
    message = str(raised.value)
    assert "agent-a" in message and first.decided_at is not None and first.decided_at.isoformat() in message, (
        f"the conflict should say who decided and when: {message}"
    )
    assert store.get(item.id).decided_label == "support", "the first decision should stand"


def test_unknown_label_lists_the_allowed_ones(store: ReviewStore, make_item: ItemFactory) -> None:
    item = store.enqueue(make_item())
    with pytest.raises(ValueError, match="allowed labels are support, delivery"):
        store.decide(item.id, "bug", "agent-a", allowed_labels=LABELS)
    assert not store.get(item.id).is_decided, "a rejected label should leave the item undecided"
    with pytest.raises(ItemNotFound):
        store.decide(item.id + 1000, "support", "agent-a")


def test_concurrent_decisions_have_exactly_one_winner(database_url: str, make_item: ItemFactory) -> None:
    """Eight agents, each with its own store (own connections), decide one item at the same moment."""
    setup = ReviewStore(database_url)
    setup.migrate()
    item = setup.enqueue(make_item())
    stores = [ReviewStore(database_url) for _ in range(8)]
    for s in stores:
        s.ping()  # connect before the race, so the race is about the UPDATE
    barrier = threading.Barrier(len(stores))
    wins: list[ReviewItem] = []
    conflicts: list[DecisionConflict] = []
    other: list[BaseException] = []

    def agent(n: int) -> None:
        barrier.wait()
        try:
            wins.append(stores[n].decide(item.id, LABELS[n % 2], f"agent-{n}"))
        except DecisionConflict as e:
            conflicts.append(e)
        except BaseException as e:  # reported by the asserts below
            other.append(e)

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stored = setup.get(item.id)
    for s in (setup, *stores):
        s.close()
    assert not other, f"the only failure should be DecisionConflict, got {other!r}"
    assert len(wins) == 1 and len(conflicts) == 7, f"exactly one agent should win: {len(wins)} wins, {len(conflicts)} conflicts"
    assert (stored.decided_by, stored.decided_label) == (wins[0].decided_by, wins[0].decided_label), "the stored decision is the winner's"
    assert all(c.decided_by == wins[0].decided_by for c in conflicts), "every loser should be told who won"


# (model label, reviewer's label): reviewers chose support 4 times (3 agreeing with the model) and
# delivery 3 times (2 agreeing), so overall agreement is 5/7.
DECISIONS = [("support", "support")] * 3 + [("support", "delivery")] + [("delivery", "delivery")] * 2 + [("delivery", "support")]
EXPECTED_AGREEMENT = {
    "count": 7,
    "per_label": {"delivery": 3, "support": 4},
    "agreement": pytest.approx(5 / 7),
    "per_label_agreement": {"delivery": pytest.approx(2 / 3), "support": pytest.approx(3 / 4)},
}


def _queue_and_decide(store: ReviewStore, make_item: ItemFactory, tickets: list[dict[str, str]]) -> dict[str, str]:
    """Queue real tickets, decide them as DECISIONS says, leave one undecided; returns ticket id -> label."""
    labels = {}
    for n, ticket in enumerate(tickets[: len(DECISIONS) + 1]):
        model_label, label = DECISIONS[n] if n < len(DECISIONS) else ("support", "")
        item = store.enqueue(
            make_item(ticket_id=f"S-{n}", subject=ticket["subject"], body=ticket["body"], language=ticket["language"], model_label=model_label)
        )
        if label:
            store.decide(item.id, label, "agent-a", note=f"checked {n}", allowed_labels=LABELS)
            labels[item.ticket_id] = label
    return labels


def test_export_loads_as_labelled_tickets(store: ReviewStore, make_item: ItemFactory, sample_tickets: list[dict[str, str]], tmp_path: Path) -> None:
    labels = _queue_and_decide(store, make_item, sample_tickets)
    out = tmp_path / "exports" / "reviewed.csv"
    summary = store.export_training_file(out)
    tickets = load_tickets([out])
    assert dict(zip(tickets["id"], tickets["label"], strict=True)) == labels, "the export should hold every decided ticket with its label"
    assert set(tickets["difficulty"]) == {"hard"}, "reviewed tickets are marked hard (the model was unsure)"
    assert tickets["usable"].all(), "every exported ticket should have usable text"
    assert list(tickets["note"]) == [f"checked {n}" for n in range(len(DECISIONS))], "the reviewer's note should be exported"
    assert summary.path == out and summary.count == len(labels), f"the summary should describe the file: {summary}"
    assert {k: getattr(summary, k) for k in EXPECTED_AGREEMENT} == EXPECTED_AGREEMENT, f"summary agreement figures: {summary}"
    assert not list(out.parent.glob(".*.tmp")), "the atomic write should leave no temporary file"


def test_agreement_figures(store: ReviewStore, make_item: ItemFactory, sample_tickets: list[dict[str, str]]) -> None:
    empty = store.agreement()
    assert empty == {"count": 0, "per_label": {}, "agreement": None, "per_label_agreement": {}}, f"no decisions, no shares: {empty}"
    _queue_and_decide(store, make_item, sample_tickets)
    assert store.agreement() == EXPECTED_AGREEMENT, f"agreement figures: {store.agreement()}"


def test_decided_since(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    early = store.enqueue(make_item(ticket_id="early"))
    late = store.enqueue(make_item(ticket_id="late"))
    store.enqueue(make_item(ticket_id="open"))
    store.decide(early.id, "support", "agent-a")
    clock.advance(hours=2)
    cutoff = clock.now
    store.decide(late.id, "delivery", "agent-a")
    assert [i.ticket_id for i in store.decided()] == ["early", "late"], "decided() should list decisions, oldest first"
    assert [i.ticket_id for i in store.decided(since=cutoff)] == ["late"], "since should keep later decisions only"
    naive = cutoff.replace(tzinfo=None)
    assert [i.ticket_id for i in store.decided(since=naive)] == ["late"], "a naive since should be read as UTC"


def test_purge_deletes_old_decisions_only(store: ReviewStore, make_item: ItemFactory, clock: FakeClock) -> None:
    old = [store.enqueue(make_item(ticket_id=f"old-{n}")) for n in range(2)]
    undecided = store.enqueue(make_item(ticket_id="open"))
    for item in old:
        store.decide(item.id, "support", "agent-a")
    clock.advance(days=20)
    recent = store.decide(store.enqueue(make_item(ticket_id="recent")).id, "delivery", "agent-a")
    clock.advance(days=11)
    assert store.purge_decided(30) == 2, "the two decisions 31 days old should be purged"
    remaining = {i.ticket_id for i in store.list_pending()} | {i.ticket_id for i in store.decided()}
    assert remaining == {undecided.ticket_id, recent.ticket_id}, f"undecided and recent items should stay: {remaining}"
    assert store.purge_decided(30) == 0, "purging again should find nothing"
    with pytest.raises(ValueError, match="older_than_days"):
        store.purge_decided(-1)


def test_cli_functions_export_and_purge(database_url: str, make_item: ItemFactory, tmp_path: Path) -> None:
    store = ReviewStore(database_url)
    store.migrate()
    store.decide(store.enqueue(make_item(ticket_id="A")).id, "delivery", "agent-a")
    store.close()
    summary = export_reviews(database_url, tmp_path / "out.csv")
    assert summary.count == 1 and summary.per_label == {"delivery": 1}, f"export_reviews should export the decision: {summary}"
    assert list(load_tickets([tmp_path / "out.csv"])["label"]) == ["delivery"], "the exported file should load with its label"
    assert purge_reviews(database_url, 0) == 1, "purge_reviews(…, 0) should delete every decided item"


def test_cli_functions_refuse_a_missing_sqlite_file(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(StoreError, match="no review database"):
        export_reviews(f"sqlite:///{missing}", tmp_path / "out.csv")
    assert not missing.exists(), "exporting from a mistyped path should not create an empty database"
