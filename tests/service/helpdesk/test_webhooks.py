"""The webhook endpoints: Freshdesk's key (role `webhook`, which can do nothing else) in every form
Freshdesk can send it, the payload forms, and Zendesk's signature: valid, wrong, stale.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest

from service.helpdesk.zendesk import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from tests.service.conftest import DELIVERY_SV, REVIEW_KEY, ROUTE_ALL
from tests.service.helpdesk.conftest import WEBHOOK_KEY, ZENDESK_SECRET, AppFactory, HelpdeskFactory, job_state, wait_for, zendesk_section
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn
from tests.service.helpdesk.zendesk_standin import ZendeskStandIn

FRESHDESK = "/v1/helpdesk/freshdesk/events"
ZENDESK = "/v1/helpdesk/zendesk/events"
EVENT = {"freshdesk_webhook": {"ticket_id": 4711}}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("headers", [
    basic("freshdesk", WEBHOOK_KEY),  # "Requires authentication" with user name and password
    basic(WEBHOOK_KEY, "X"),  # "Requires authentication" with the API key option
    {"X-API-Key": WEBHOOK_KEY},  # a custom header
    {"Authorization": f"Bearer {WEBHOOK_KEY}"},
], ids=["basic-password", "basic-api-key", "x-api-key", "bearer"])
def test_the_webhook_key_is_accepted_in_every_form_freshdesk_sends(helpdesk_app: AppFactory, headers: dict[str, str]) -> None:
    client = helpdesk_app()
    r = client.post(FRESHDESK, json=EVENT, headers=headers)
    assert r.status_code == 202 and r.json()["status"] == "queued", f"the webhook key should be accepted: {r.status_code} {r.text}"


def test_the_webhook_role_can_do_nothing_else(helpdesk_app: AppFactory) -> None:
    client = helpdesk_app()
    hook = {"X-API-Key": WEBHOOK_KEY}
    attempts = {
        "predict": client.post("/v1/predict", json=DELIVERY_SV, headers=hook),
        "review": client.get("/v1/review/items", headers=hook),
        "reload": client.post("/v1/admin/reload", headers=hook),
        "dead letters": client.get("/v1/admin/helpdesk/dead-letters", headers=hook),
    }
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 403), \
        f"a webhook key is refused everywhere but the webhook: { {n: r.status_code for n, r in attempts.items()} }"
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/review/sign-in").text)
    assert token is not None, "the sign-in form carries a CSRF token"
    page = client.post("/review/sign-in", data={"csrf": token.group(1), "name": "Hook", "key": WEBHOOK_KEY}, follow_redirects=False)
    assert page.status_code == 401, f"a webhook key does not sign in to the review page: {page.status_code}"
    page = client.post("/review/sign-in", data={"csrf": token.group(1), "name": "Agent", "key": REVIEW_KEY}, follow_redirects=False)
    assert page.status_code == 303, f"(while a review key does, with the same form: {page.status_code})"


@pytest.mark.parametrize("body", [
    {"freshdesk_webhook": {"ticket_id": 4711, "ticket_subject": "x"}},  # Simple payload
    {"freshdesk_webhook": {"ticket_id": "#4711"}},
    {"ticket_id": "4711", "anything": "else"},  # Advanced payload with a placeholder
    {"ticket": {"id": 4711}},
], ids=["simple", "simple-hash", "advanced", "nested"])
def test_payload_forms_name_the_ticket(helpdesk_app: AppFactory, body: dict[str, object]) -> None:
    client = helpdesk_app()
    r = client.post(FRESHDESK, json=body, headers={"X-API-Key": WEBHOOK_KEY})
    assert r.status_code == 202, f"{body} should be accepted: {r.text}"
    job = client.app.state.services.helpdesk.store.get(r.json()["job_id"])  # type: ignore[attr-defined]
    assert job.ticket_id == "4711", f"the ticket id should be read as 4711, got {job.ticket_id}"


def test_mode_off_ignores_events(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory) -> None:
    client = helpdesk_app(helpdesk_settings(mode="off"))
    r = client.post(FRESHDESK, json=EVENT, headers={"X-API-Key": WEBHOOK_KEY})
    assert r.status_code == 202 and r.json()["status"] == "ignored", f"mode off acknowledges and ignores: {r.text}"
    assert client.app.state.services.helpdesk.store.find("freshdesk", "ticket", "4711") is None, "and queues nothing"  # type: ignore[attr-defined]


# --- Zendesk's signature ---------------------------------------------------------------------
def signed(body: bytes, secret: str = ZENDESK_SECRET, at: datetime | None = None) -> dict[str, str]:
    timestamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {SIGNATURE_HEADER: signature(secret, timestamp, body), TIMESTAMP_HEADER: timestamp, "Content-Type": "application/json"}


@pytest.fixture
def zendesk_client(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory, zendesk: ZendeskStandIn):  # type: ignore[no-untyped-def]
    return helpdesk_app(helpdesk_settings(zendesk=zendesk_section(zendesk)), **ROUTE_ALL)


def test_zendesk_valid_signature_queues_and_handles_the_ticket(zendesk_client, zendesk: ZendeskStandIn) -> None:  # type: ignore[no-untyped-def]
    ticket = zendesk.add_ticket("Ny skola i synken", "Hej! Kan ni lägga till en ny skola, Ekbackens skola, i synken till Google?", tags=("vip",))
    body = json.dumps({"ticket_id": str(ticket)}).encode()
    r = zendesk_client.post(ZENDESK, content=body, headers=signed(body))
    assert r.status_code == 202 and r.json()["status"] == "queued", f"a correctly signed call is accepted: {r.text}"
    wait_for(lambda: job_state(zendesk_client, "zendesk", ticket) == "done", what="the Zendesk job")
    notes = zendesk.private_comments(ticket)
    assert len(notes) == 1 and "Väg: leveransuppgift" in notes[0]["body"], f"a private comment holds the note: {notes}"
    assert zendesk.tickets[ticket]["tags"] == ["vip", "triage-delivery"], f"tags are merged: {zendesk.tickets[ticket]['tags']}"


def test_zendesk_event_webhook_body(zendesk_client) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"type": "zen:event-type:ticket.created", "detail": {"id": "512"}}).encode()
    r = zendesk_client.post(ZENDESK, content=body, headers=signed(body))
    assert r.status_code == 202, f"an event-subscribed webhook's body names the ticket in detail.id: {r.text}"


def test_review_key_is_not_a_webhook_key(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    r = helpdesk_app().post(FRESHDESK, json=EVENT, headers={"X-API-Key": REVIEW_KEY})
    assert r.status_code == 403, f"only the webhook role queues events: {r.status_code}"
