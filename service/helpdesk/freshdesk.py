"""The Freshdesk connector: Freshdesk API v2 (`https://DOMAIN.freshdesk.com/api/v2`).

Authentication is the API key as the Basic user name with `X` as the password. Error bodies are
`{"description", "errors": [{"field", "message", "code"}]}` (or `{"code", "message"}` for
authentication); the first `code` is what the worker logs and dead-letters with.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx

from service.helpdesk.base import ConnectorProblem, ExportedTicket, HelpdeskRejected, HelpdeskTicket, TicketChange
from service.helpdesk.metrics import HelpdeskMetrics
from service.helpdesk.settings import FreshdeskSettings
from service.helpdesk.transport import Transport, parse_time

STATUS_OPEN, STATUS_RESOLVED, STATUS_CLOSED = 2, 4, 5
PRIORITY_LOW = 1
PAGE_SIZE = 100  # Freshdesk's largest page
MAX_PAGES = 300  # a ticket list query stops here; the export starts a new window after the last ticket seen
SOURCE_REPLY = 0  # a conversation's `source`: 0 reply, 2 note


def error_code(response: httpx.Response) -> str:
    """The first error code of a Freshdesk error body, else `http_<status>`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) and isinstance(errors[0].get("code"), str):
            return str(errors[0]["code"])[:60]
        if isinstance(body.get("code"), str):
            return str(body["code"])[:60]
    return f"http_{response.status_code}"


def as_html(text: str) -> str:
    """Plain text as Freshdesk's HTML body: escaped, one paragraph per blank-line block, line breaks kept."""
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return "".join(f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>" for block in blocks)


def same_text(a: str, b: str) -> bool:
    """Whether two texts read the same once whitespace is collapsed (HTML round trips change it)."""
    return " ".join(a.split()) == " ".join(b.split())


def next_link(response: httpx.Response) -> str | None:
    """The `rel="next"` URL of a `Link` header, if any."""
    link = response.links.get("next")
    return link.get("url") if link else None


class FreshdeskConnector:
    """Freshdesk API v2 behind the `Connector` interface."""

    name = "freshdesk"

    def __init__(self, settings: FreshdeskSettings, timeout: float, metrics: HelpdeskMetrics | None = None):
        assert settings.base_url is not None and settings.api_key is not None  # the settings' validators ensure both
        self.transport = Transport(self.name, f"{settings.base_url}/api/v2", httpx.BasicAuth(settings.api_key.get_secret_value(), "X"),
                                   timeout, metrics, error_code)

    def verify(self, type_names: Sequence[str], group_ids: Sequence[int]) -> None:
        try:
            fields = self.transport.json("GET", "/ticket_fields", params={"type": "default_ticket_type"})
        except HelpdeskRejected as e:
            if e.status in (401, 403):
                raise ConnectorProblem(f"Freshdesk refused the API key ({e.code}); check TRIAGE_HELPDESK_FRESHDESK__API_KEY "
                                       "(profile picture > Profile settings > View API key)") from None
            raise
        choices = next((f.get("choices") for f in fields if isinstance(f, dict) and f.get("name") == "ticket_type"), None) or []
        missing = [name for name in type_names if name not in choices]
        if missing:
            raise ConnectorProblem(f"freshdesk.types: {', '.join(repr(m) for m in missing)} is not a ticket type in Freshdesk "
                                   f"(it has: {', '.join(map(str, choices)) or 'none'}); add it under Admin > Ticket fields > Type, or fix the name")
        for group_id in group_ids:
            try:
                self.transport.call("GET", f"/groups/{group_id}")
            except HelpdeskRejected as e:
                if e.status == 404:
                    raise ConnectorProblem(f"freshdesk group {group_id} does not exist; "
                                           "take the id from Admin > Groups (the number in the group's URL)") from None
                raise

    def fetch(self, ticket_id: str) -> HelpdeskTicket:
        data = self.transport.json("GET", f"/tickets/{ticket_id}")
        if data.get("deleted"):
            raise HelpdeskRejected("ticket_deleted", f"freshdesk ticket {ticket_id} is deleted", 404)
        return HelpdeskTicket(
            id=str(data["id"]), subject=str(data.get("subject") or ""), text=str(data.get("description_text") or ""),
            type=data.get("type") or None, tags=tuple(str(t) for t in data.get("tags") or ()), updated_at=parse_time(data.get("updated_at")),
            open=data.get("status") not in (STATUS_RESOLVED, STATUS_CLOSED), requester_id=data.get("requester_id"),
        )

    def _conversations(self, ticket_id: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"/tickets/{ticket_id}/conversations?per_page={PAGE_SIZE}"
        while url:
            response = self.transport.call("GET", url)
            yield from (c for c in response.json() if isinstance(c, dict))
            url = next_link(response)

    def add_note(self, ticket_id: str, text: str) -> None:
        self.transport.call("POST", f"/tickets/{ticket_id}/notes", json={"body": as_html(text), "private": True})

    def has_note(self, ticket_id: str, marker: str) -> bool:
        return any(c.get("private") and marker in str(c.get("body_text") or "") for c in self._conversations(ticket_id))

    def update(self, ticket_id: str, change: TicketChange) -> None:
        body: dict[str, Any] = {}
        if change.tags is not None:
            body["tags"] = list(change.tags)
        if change.type is not None:
            body["type"] = change.type
        if change.group_id is not None:
            body["group_id"] = change.group_id
        if body:
            self.transport.call("PUT", f"/tickets/{ticket_id}", json=body)

    def reply(self, ticket_id: str, text: str) -> None:
        self.transport.call("POST", f"/tickets/{ticket_id}/reply", json={"body": as_html(text)})

    def has_reply(self, ticket_id: str, text: str) -> bool:
        return any(not c.get("private") and not c.get("incoming") and c.get("source") == SOURCE_REPLY
                   and same_text(str(c.get("body_text") or ""), text) for c in self._conversations(ticket_id))

    def create_delivery_task(self, parent: HelpdeskTicket, subject: str, text: str, group_id: int, marker: str) -> str:
        body = {"subject": subject[:255], "description": as_html(f"{text}\n\n{marker}"), "group_id": group_id, "parent_id": int(parent.id),
                "status": STATUS_OPEN, "priority": PRIORITY_LOW}
        if parent.requester_id is not None:
            body["requester_id"] = parent.requester_id
        return str(self.transport.json("POST", "/tickets", json=body)["id"])

    def find_delivery_task(self, parent: HelpdeskTicket, marker: str) -> str | None:
        children = self.transport.json("GET", f"/tickets/{parent.id}").get("associated_tickets_list") or []
        for child_id in children:
            child = self.transport.json("GET", f"/tickets/{child_id}")
            if marker in str(child.get("description_text") or ""):
                return str(child_id)
        return None

    def close(self, ticket_id: str) -> None:
        self.transport.call("PUT", f"/tickets/{ticket_id}", json={"status": STATUS_CLOSED})

    def export(self, since: datetime) -> Iterator[ExportedTicket]:
        """Walk `updated_since` windows: one query stops after MAX_PAGES pages, so the next starts at the last update seen."""
        seen: set[str] = set()
        window_start = since
        while True:
            pages, page_size, last_update = 0, 0, window_start
            url: str | None = "/tickets"
            params: dict[str, Any] | None = {"updated_since": window_start.strftime("%Y-%m-%dT%H:%M:%SZ"), "include": "description",
                                             "order_by": "updated_at", "order_type": "asc", "per_page": PAGE_SIZE}
            while url and pages < MAX_PAGES:
                response = self.transport.call("GET", url, params=params)
                params, pages = None, pages + 1  # the next link carries the query
                batch = response.json()
                page_size = len(batch)
                for data in batch:
                    ticket = ExportedTicket(id=str(data["id"]), subject=str(data.get("subject") or ""), text=str(data.get("description_text") or ""),
                                            type=data.get("type") or None, updated_at=parse_time(data.get("updated_at")))
                    last_update = max(last_update, ticket.updated_at)
                    if ticket.id not in seen:
                        seen.add(ticket.id)
                        yield ticket
                url = next_link(response)
            # Whether or not the last allowed page links on, a full one means the window may hold more.
            if pages < MAX_PAGES or page_size < PAGE_SIZE:
                return
            if last_update <= window_start:
                raise HelpdeskRejected("window_stuck", f"more than {MAX_PAGES * PAGE_SIZE} tickets were updated in one second; "
                                       "the export cannot page past them")
            window_start = last_update  # tickets updated in that very second come again and are skipped by id

    def close_client(self) -> None:
        self.transport.close()
