"""Webhook to job to write-back, through the Freshdesk stand-in as it records it: suggest and act
mode, the seed's delivery process, review routing, and never overwriting a person.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.service.conftest import REVIEW_ALL, ROUTE_ALL
from tests.service.helpdesk.conftest import (
    DELIVERY_GROUP,
    REVIEW_GROUP,
    WEBHOOK_KEY,
    AppFactory,
    HelpdeskFactory,
    job_state,
    wait_for,
)
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn

HOOK = {"X-API-Key": WEBHOOK_KEY}
DELIVERY_SV = ("Ny skola i synken", "Hej! Kan ni lägga till en ny skola, Ekbackens skola, i synken till Google? Mvh Anna")
DELIVERY_EN = ("New school unit", "Hi, please add our new school unit Oakfield School to the sync to Google Workspace. Thanks")


def send_event(client, ticket_id: int) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/v1/helpdesk/freshdesk/events", json={"freshdesk_webhook": {"ticket_id": ticket_id}}, headers=HOOK)
    assert r.status_code == 202, f"a webhook event should be accepted with 202: {r.status_code} {r.text}"
    return r.json()


def handled(client, ticket_id: int, kind: str = "ticket") -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: job_state(client, "freshdesk", ticket_id, kind) in ("done", "dead"), what=f"the job of ticket {ticket_id}")
    state = job_state(client, "freshdesk", ticket_id, kind)
    assert state == "done", f"the job of ticket {ticket_id} should be done, is {state}"


def test_suggest_mode_adds_a_swedish_note_and_merges_the_tag(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV, tags=("vip", "skola"))
    client = helpdesk_app(**ROUTE_ALL)
    assert send_event(client, ticket)["status"] == "queued", "a first event should queue a job"
    handled(client, ticket)
    notes = freshdesk.notes(ticket)
    assert len(notes) == 1, f"suggest mode adds exactly one note, got {len(notes)}"
    text = notes[0]["body_text"]
    for expected in ("Väg: leveransuppgift", "Troligast: leveransuppgift", "säkerhet", "Avgörande formuleringar: “", "Modellversion: "):
        assert expected in text, f"the Swedish note should hold {expected!r}: {text}"
    stored = freshdesk.tickets[ticket]
    assert stored["tags"] == ["vip", "skola", "triage-delivery"], f"our tag is added to the ticket's own, never replacing them: {stored['tags']}"
    assert stored["type"] is None and stored["status"] == 2, "suggest mode changes neither the type nor the status"
    assert not freshdesk.replies(ticket), "suggest mode never replies to the customer"


def test_english_ticket_gets_an_english_note(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_EN)
    client = helpdesk_app(**ROUTE_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    text = freshdesk.notes(ticket)[0]["body_text"]
    assert "Route: delivery task" in text and "Model version:" in text, f"an English ticket gets an English note: {text}"


def test_act_mode_runs_the_delivery_process(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    client = helpdesk_app(helpdesk_settings(mode="act"), **ROUTE_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    stored = freshdesk.tickets[ticket]
    assert stored["type"] == "Leveransuppgift", f"act mode sets the configured type: {stored['type']}"
    assert stored["status"] == 5, f"the original ticket is closed (status 5): {stored['status']}"
    replies = freshdesk.replies(ticket)
    assert len(replies) == 1 and "leveransuppgift" in replies[0]["body_text"].lower() and replies[0]["body_text"].startswith("Hej!"), \
        f"the customer gets the Swedish delivery message once: {replies}"
    children = stored["associated_tickets_list"]
    assert len(children) == 1, f"one internal delivery task is created as a child ticket: {children}"
    child = freshdesk.tickets[children[0]]
    assert child["parent_id"] == ticket and child["group_id"] == DELIVERY_GROUP, f"the child is in the delivery group under the ticket: {child}"
    assert child["subject"] == f"Leveransuppgift: {DELIVERY_SV[0]}", f"the child's subject follows the configured text: {child['subject']}"
    assert len(freshdesk.notes(ticket)) == 1, "the note is written too"


def test_act_mode_sends_review_routed_tickets_to_the_review_group_and_queue(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory,
                                                                          freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    client = helpdesk_app(helpdesk_settings(mode="act"), **REVIEW_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    stored = freshdesk.tickets[ticket]
    assert stored["group_id"] == REVIEW_GROUP and stored["type"] is None, f"a review ticket moves to the review group, untyped: {stored}"
    assert "triage-review" in stored["tags"] and stored["status"] == 2, f"it is tagged for review and stays open: {stored}"
    items = client.get("/v1/review/items", headers={"X-API-Key": "review-key-0123456789abcdef"}).json()["items"]
    assert [i["ticket_id"] for i in items] == [f"freshdesk:{ticket}"], f"the ticket is in the review queue under its helpdesk id: {items}"


def test_a_typed_ticket_gets_only_the_note(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV, type="Problem")
    client = helpdesk_app(helpdesk_settings(mode="act"), **ROUTE_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    stored = freshdesk.tickets[ticket]
    assert stored["type"] == "Problem" and stored["status"] == 2, f"a type a person set is never overwritten, the ticket stays open: {stored}"
    assert not freshdesk.replies(ticket) and not stored["associated_tickets_list"], "no reply and no delivery task for a person's ticket"
    note = freshdesk.notes(ticket)[0]["body_text"]
    assert "bara den här anteckningen" in note, f"the note says why nothing else was done: {note}"


def test_a_ticket_changed_after_the_event_gets_only_the_note(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory,
                                                            freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    settings = helpdesk_settings(mode="act", worker={"poll_seconds": 0.05, "person_grace_seconds": 0})
    hold = freshdesk.hold("GET", f"/api/v2/tickets/{ticket}")
    client = helpdesk_app(settings, **ROUTE_ALL)
    send_event(client, ticket)
    assert hold.reached.wait(20), "the worker should fetch the ticket"
    # An agent edits the ticket after the event (Freshdesk's times have whole seconds), before the worker reads it.
    freshdesk.clock = lambda: datetime.now(UTC) + timedelta(seconds=2)
    freshdesk.touch(ticket, priority=3)
    hold.release.set()
    handled(client, ticket)
    stored = freshdesk.tickets[ticket]
    assert stored["type"] is None and stored["status"] == 2 and not freshdesk.replies(ticket), f"a ticket a person changed is left to them: {stored}"
    assert len(freshdesk.notes(ticket)) == 1, "the note is still added"


def test_repeated_events_act_once(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    client = helpdesk_app(helpdesk_settings(mode="act"), **ROUTE_ALL)
    first = send_event(client, ticket)
    handled(client, ticket)
    # Freshdesk retries after 5, 30 and 60 minutes when it missed our answer; the same ticket may also trigger an update rule.
    repeats = [send_event(client, ticket) for _ in range(3)]
    assert all(r == {"status": "duplicate", "job_id": first["job_id"], "job_state": "done"} for r in repeats), f"repeats name the first job: {repeats}"
    assert len(freshdesk.notes(ticket)) == 1 and len(freshdesk.replies(ticket)) == 1, "a repeated event never acts twice"
    assert len(freshdesk.tickets[ticket]["associated_tickets_list"]) == 1, "only one delivery task exists"


def test_a_ticket_without_words_gets_nothing_written(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket("", "   ")
    client = helpdesk_app(**ROUTE_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    job = client.app.state.services.helpdesk.store.find("freshdesk", "ticket", str(ticket))  # type: ignore[attr-defined]
    assert job.progress.get("skipped") == "empty_ticket", f"the job says why it did nothing: {job.progress}"
    assert not freshdesk.notes(ticket) and not freshdesk.calls_to("PUT", f"/api/v2/tickets/{ticket}"), "nothing is written to an empty ticket"
