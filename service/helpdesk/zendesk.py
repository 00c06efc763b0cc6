"""The Zendesk connector: Zendesk Support API v2 (`https://SUBDOMAIN.zendesk.com/api/v2`), and the
check of a Zendesk webhook's signature.

Authentication is an agent's e-mail with `/token` and an API token, as Basic auth. Zendesk has no
ticket type of free names, so the type lives in a custom drop-down field (`type_field_id`) whose
option values are the configured names. Notes are private comments, replies public comments,
closing is `solved`, and the delivery task is a new ticket found again by its `external_id`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from service.helpdesk.base import ConnectorProblem, ExportedTicket, HelpdeskRejected, HelpdeskTicket, TicketChange
from service.helpdesk.metrics import HelpdeskMetrics
from service.helpdesk.settings import ZendeskSettings
from service.helpdesk.transport import Transport, parse_time

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
DONE_STATUSES = ("solved", "closed")


def error_code(response: httpx.Response) -> str:
    """Zendesk's `error` name (e.g. `RecordInvalid`), else `http_<status>`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("title")
    if isinstance(error, str) and error.replace("_", "").isalnum():
        return error[:60]
    return f"http_{response.status_code}"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature: base64 of HMAC-SHA256 over the timestamp followed by the body."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_problem(secret: str, presented: str | None, timestamp: str | None, body: bytes, now: datetime, max_age_seconds: int) -> str | None:
    """Why a webhook's signature is not acceptable (missing, stale, wrong), or None when it is valid."""
    if not presented or not timestamp:
        return f"send the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers (Zendesk adds them to every webhook call)"
    try:
        signed_at = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not an ISO 8601 time"
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    age = (now - signed_at).total_seconds()
    if abs(age) > max_age_seconds:
        when = "old" if age > 0 else "in the future"
        return f"the signature timestamp is {abs(age):.0f} s {when}; the limit is {max_age_seconds} s (a replayed call, or a clock off)"
    if not hmac.compare_digest(signature(secret, timestamp, body).encode("ascii"), presented.strip().encode("ascii", "replace")):
        return "the signature does not match; check the signing secret (Admin Center > Webhooks > the webhook > Reveal secret)"
    return None


class ZendeskConnector:
    """Zendesk Support API v2 behind the `Connector` interface."""

    name = "zendesk"

    def __init__(self, settings: ZendeskSettings, timeout: float, metrics: HelpdeskMetrics | None = None):
        assert settings.base_url is not None and settings.api_token is not None  # the settings' validators ensure both
        auth = httpx.BasicAuth(f"{settings.email}/token", settings.api_token.get_secret_value())
        self.transport = Transport(self.name, f"{settings.base_url}/api/v2", auth, timeout, metrics, error_code)
        self.type_field_id = settings.type_field_id

    def verify(self, type_names: Sequence[str], group_ids: Sequence[int]) -> None:
        try:
            self.transport.call("GET", "/users/me.json")
        except HelpdeskRejected as e:
            if e.status in (401, 403):
                raise ConnectorProblem(f"Zendesk refused the e-mail and API token ({e.code}); "
                                       "check zendesk.email and TRIAGE_HELPDESK_ZENDESK__API_TOKEN") from None
            raise
        if type_names and self.type_field_id is not None:
            try:
                field = self.transport.json("GET", f"/ticket_fields/{self.type_field_id}.json")["ticket_field"]
            except HelpdeskRejected as e:
                if e.status == 404:
                    raise ConnectorProblem(f"zendesk.type_field_id: no ticket field {self.type_field_id}; "
                                           "take the id from Admin Center > Objects and rules > Ticket fields") from None
                raise
            values = [str(o.get("value")) for o in field.get("custom_field_options") or []]
            missing = [name for name in type_names if name not in values]
            if missing:
                raise ConnectorProblem(f"zendesk.types: {', '.join(map(repr, missing))} is not an option value of field "
                                       f"{self.type_field_id} (it has: {', '.join(values) or 'none'})")
        for group_id in group_ids:
            try:
                self.transport.call("GET", f"/groups/{group_id}.json")
            except HelpdeskRejected as e:
                if e.status == 404:
                    raise ConnectorProblem(f"zendesk group {group_id} does not exist; take the id from Admin Center > People > Groups") from None
                raise

    def _type_of(self, data: dict[str, Any]) -> str | None:
        for field in data.get("custom_fields") or []:
            if isinstance(field, dict) and field.get("id") == self.type_field_id:
                return field.get("value") or None
        return None

    def fetch(self, ticket_id: str) -> HelpdeskTicket:
        data = self.transport.json("GET", f"/tickets/{ticket_id}.json")["ticket"]
        if data.get("status") == "deleted":
            raise HelpdeskRejected("ticket_deleted", f"zendesk ticket {ticket_id} is deleted", 404)
        return HelpdeskTicket(
            id=str(data["id"]), subject=str(data.get("subject") or ""), text=str(data.get("description") or ""), type=self._type_of(data),
            tags=tuple(str(t) for t in data.get("tags") or ()), updated_at=parse_time(data.get("updated_at")),
            open=data.get("status") not in DONE_STATUSES, requester_id=data.get("requester_id"),
        )

    def _comments(self, ticket_id: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"/tickets/{ticket_id}/comments.json"
        while url:
            page = self.transport.json("GET", url)
            yield from (c for c in page.get("comments") or [] if isinstance(c, dict))
            url = page.get("next_page")

    def _comment(self, ticket_id: str, text: str, public: bool) -> None:
        self.transport.call("PUT", f"/tickets/{ticket_id}.json", json={"ticket": {"comment": {"body": text, "public": public}}})

    def add_note(self, ticket_id: str, text: str) -> None:
        self._comment(ticket_id, text, public=False)

    def has_note(self, ticket_id: str, marker: str) -> bool:
        return any(not c.get("public") and marker in str(c.get("plain_body") or c.get("body") or "") for c in self._comments(ticket_id))

    def update(self, ticket_id: str, change: TicketChange) -> None:
        body: dict[str, Any] = {}
        if change.tags is not None:
            body["tags"] = list(change.tags)
        if change.type is not None:
            body["custom_fields"] = [{"id": self.type_field_id, "value": change.type}]
        if change.group_id is not None:
            body["group_id"] = change.group_id
        if body:
            self.transport.call("PUT", f"/tickets/{ticket_id}.json", json={"ticket": body})

    def reply(self, ticket_id: str, text: str) -> None:
        self._comment(ticket_id, text, public=True)

    def has_reply(self, ticket_id: str, text: str) -> bool:
        wanted = " ".join(text.split())
        return any(c.get("public") and " ".join(str(c.get("plain_body") or c.get("body") or "").split()) == wanted for c in self._comments(ticket_id))

    def create_delivery_task(self, parent: HelpdeskTicket, subject: str, text: str, group_id: int, marker: str) -> str:
        ticket: dict[str, Any] = {"subject": subject[:255], "comment": {"body": text, "public": False}, "group_id": group_id, "external_id": marker}
        if parent.requester_id is not None:
            ticket["requester_id"] = parent.requester_id
        return str(self.transport.json("POST", "/tickets.json", json={"ticket": ticket})["ticket"]["id"])

    def find_delivery_task(self, parent: HelpdeskTicket, marker: str) -> str | None:
        tickets = self.transport.json("GET", "/tickets.json", params={"external_id": marker}).get("tickets") or []
        return str(tickets[0]["id"]) if tickets else None

    def close(self, ticket_id: str) -> None:
        self.transport.call("PUT", f"/tickets/{ticket_id}.json", json={"ticket": {"status": "solved"}})

    def export(self, since: datetime) -> Iterator[ExportedTicket]:
        """Zendesk's cursor-based incremental export: every ticket changed since `since`, deleted ones left out."""
        seen: set[str] = set()
        url: str | None = "/incremental/tickets/cursor.json"
        params: dict[str, Any] | None = {"start_time": int(since.timestamp())}
        while url:
            page = self.transport.json("GET", url, params=params)
            params = None
            for data in page.get("tickets") or []:
                if data.get("status") == "deleted" or str(data.get("id")) in seen:
                    continue
                seen.add(str(data["id"]))
                yield ExportedTicket(id=str(data["id"]), subject=str(data.get("subject") or ""), text=str(data.get("description") or ""),
                                     type=self._type_of(data), updated_at=parse_time(data.get("updated_at")))
            url = None if page.get("end_of_stream") else page.get("after_url")

    def close_client(self) -> None:
        self.transport.close()
