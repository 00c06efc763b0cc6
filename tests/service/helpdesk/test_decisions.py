"""An agent's decision on a review item that came from a helpdesk is written back the same way:
queued in the decision's own transaction, then a note, the tags, and in act mode the type and the
delivery process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from service.helpdesk.jobs import JobStore
from service.review import NewReviewItem
from service.review.store import ReviewStore
from tests.service.conftest import PREDICT_KEY, REVIEW_ALL, REVIEW_KEY
from tests.service.helpdesk.conftest import DELIVERY_GROUP, AppFactory, HelpdeskFactory, job_state, wait_for
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn
from tests.service.helpdesk.test_writeback import DELIVERY_SV, handled, send_event

REVIEW = {"X-API-Key": REVIEW_KEY}


def decide(client, ticket: int, label: str) -> None:  # type: ignore[no-untyped-def]
    items = client.get("/v1/review/items", headers=REVIEW).json()["items"]
    item = next(i for i in items if i["ticket_id"] == f"freshdesk:{ticket}")
    r = client.post(f"/v1/review/items/{item['id']}/decision", json={"label": label, "reviewer": "Karin", "note": "kund vill ha ny skola"},
                    headers=REVIEW)
    assert r.status_code == 200, f"the decision should be recorded: {r.text}"


def test_a_decision_is_written_back_as_a_note_and_tags(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV, tags=("vip",))
    client = helpdesk_app(**REVIEW_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    assert freshdesk.tickets[ticket]["tags"] == ["vip", "triage-review"], "the review-routed ticket is tagged for review first"
    decide(client, ticket, "delivery")
    wait_for(lambda: job_state(client, "freshdesk", ticket, "decision") == "done", what="the decision's write-back")
    notes = [n["body_text"] for n in freshdesk.notes(ticket)]
    assert len(notes) == 2 and "Karin bedömde ärendet som leveransuppgift" in notes[1] and "kund vill ha ny skola" in notes[1], \
        f"a second note gives the agent's decision and comment: {notes}"
    assert freshdesk.tickets[ticket]["tags"] == ["vip", "triage-delivery"], \
        f"the decided label's tag replaces our review tag; the agent's own stay: {freshdesk.tickets[ticket]['tags']}"
    assert freshdesk.tickets[ticket]["type"] is None, "suggest mode sets no type"


def test_act_mode_runs_the_delivery_process_after_the_decision(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory,
                                                              freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    client = helpdesk_app(helpdesk_settings(mode="act"), **REVIEW_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    decide(client, ticket, "delivery")
    wait_for(lambda: job_state(client, "freshdesk", ticket, "decision") == "done", what="the decision's write-back")
    stored = freshdesk.tickets[ticket]
    assert stored["type"] == "Leveransuppgift" and stored["status"] == 5, f"the decided ticket gets its type and is closed: {stored}"
    assert len(freshdesk.replies(ticket)) == 1, "the customer gets the delivery message"
    child = freshdesk.tickets[stored["associated_tickets_list"][0]]
    assert child["group_id"] == DELIVERY_GROUP, f"the delivery task is in the delivery group: {child}"


def test_a_decided_support_ticket_gets_its_type_only(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    client = helpdesk_app(helpdesk_settings(mode="act"), **REVIEW_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    decide(client, ticket, "support")
    wait_for(lambda: job_state(client, "freshdesk", ticket, "decision") == "done", what="the decision's write-back")
    stored = freshdesk.tickets[ticket]
    assert stored["type"] == "Support" and stored["status"] == 2 and not freshdesk.replies(ticket), f"support: type only, still open: {stored}"


def test_items_not_from_a_helpdesk_write_nothing_back(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    client = helpdesk_app(**REVIEW_ALL)
    r = client.post("/v1/predict", json={"id": "freshdesk:1000", "subject": DELIVERY_SV[0], "body": DELIVERY_SV[1]}, headers={"X-API-Key": PREDICT_KEY})
    assert r.json()["review_queued"], f"the prediction went to review: {r.text}"
    r = client.post(f"/v1/review/items/{r.json()['review_item_id']}/decision", json={"label": "delivery", "reviewer": "Karin"}, headers=REVIEW)
    assert r.status_code == 200, r.text
    store: JobStore = client.app.state.services.helpdesk.store  # type: ignore[attr-defined]
    assert store.find("freshdesk", "decision", "1000") is None, "an id that only looks like a helpdesk's queues no write-back"
    assert not freshdesk.calls, "the helpdesk is not called"


def test_the_decision_and_its_write_back_job_are_stored_together(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    store = ReviewStore(url)
    store.migrate()
    jobs = JobStore(url)
    job, _ = jobs.enqueue("freshdesk", "ticket", "77")
    with sa.create_engine(url).begin() as connection:  # the ticket job sent this item to review
        connection.execute(sa.text("UPDATE helpdesk_jobs SET review_ticket_id = 'freshdesk:77' WHERE id = :id"), {"id": job.id})
    item = store.enqueue(NewReviewItem(ticket_id="freshdesk:77", subject="s", body="lägga till skola", model_label="delivery", confidence=0.6,
                                       probabilities={"delivery": 0.6, "support": 0.4}, model_version="v1"))

    def failing(connection: sa.Connection, decided: object) -> None:
        raise RuntimeError("the write-back could not be queued")

    store.on_decision(failing)
    with pytest.raises(RuntimeError):
        store.decide(item.id, "delivery", "Karin")
    assert not store.get(item.id).is_decided, "a decision whose write-back job failed to be stored is not stored either"
    store._decision_listeners.clear()

    from service.helpdesk.jobs import queue_decision

    store.on_decision(lambda connection, decided: queue_decision(connection, decided.ticket_id, {"label": decided.decided_label}, jobs.now()) and None)
    store.decide(item.id, "delivery", "Karin")
    decision = jobs.find("freshdesk", "decision", "77")
    assert decision is not None and decision.progress == {"decision": {"label": "delivery"}}, f"the decision queued its write-back: {decision}"
    store.close()
    jobs.close()
