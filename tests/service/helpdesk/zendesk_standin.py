"""A contract stand-in of the Zendesk Support API v2 parts the connector uses, kept in memory.

As the documentation says: Basic auth with `{email}/token` and the API token (401
`{"error": "Couldn't authenticate you"}` otherwise); a ticket update takes `comment` (`public`
true or false), `tags` (replacing them), `custom_fields`, `group_id` and `status`; errors are
`{"error": "RecordInvalid", "description", "details"}`; `external_id` finds tickets; the cursor
incremental export pages with `after_url` until `end_of_stream`.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.service.helpdesk.standin import Handler, StandIn

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
EXPORT_PAGE = 2  # small, so tests walk several pages


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def invalid(field: str, description: str) -> JSONResponse:
    return JSONResponse({"error": "RecordInvalid", "description": "Record validation errors",
                         "details": {field: [{"description": description, "error": "InvalidValue"}]}}, status_code=422)


class ZendeskStandIn(StandIn):
    """Tickets, comments, one drop-down type field and groups of one Zendesk account."""

    def __init__(self, email: str = "agent@example.com", token: str = "zd-standin-token-0123456789", type_field_id: int = 360001,
                 type_values: tuple[str, ...] = ("support", "leveransuppgift"), groups: tuple[int, ...] = (31, 32)):
        super().__init__()
        self.email, self.token = email, token
        self.type_field_id, self.type_values, self.groups = type_field_id, list(type_values), set(groups)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self._ids = itertools.count(500)
        self._comment_ids = itertools.count(1)

    def authorised(self, user: str, password: str) -> bool:
        return user == f"{self.email}/token" and password == self.token

    def unauthorised(self) -> Response:
        return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)

    def add_ticket(self, subject: str, description: str, type_value: str | None = None, tags: tuple[str, ...] = (), status: str = "new") -> int:
        with self.lock:
            ticket_id = next(self._ids)
            now = stamp(datetime.now(UTC))
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": subject, "description": description, "tags": list(tags), "status": status, "group_id": None,
                "requester_id": 7001, "external_id": None, "custom_fields": [{"id": self.type_field_id, "value": type_value}],
                "created_at": now, "updated_at": now, "generated_timestamp": int(datetime.now(UTC).timestamp()),
            }
            self.comments[ticket_id] = [{"id": next(self._comment_ids), "body": description, "plain_body": description, "public": True}]
            return ticket_id

    def private_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.comments[ticket_id] if not c["public"]]

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v2/users/me.json", self.me),
            ("GET", "/api/v2/tickets/{id:int}.json", self.view_ticket),
            ("PUT", "/api/v2/tickets/{id:int}.json", self.update_ticket),
            ("GET", "/api/v2/tickets/{id:int}/comments.json", self.list_comments),
            ("POST", "/api/v2/tickets.json", self.create_ticket),
            ("GET", "/api/v2/tickets.json", self.list_tickets),
            ("GET", "/api/v2/ticket_fields/{id:int}.json", self.ticket_field),
            ("GET", "/api/v2/groups/{id:int}.json", self.view_group),
            ("GET", "/api/v2/incremental/tickets/cursor.json", self.incremental),
        ]

    @staticmethod
    def _not_found() -> JSONResponse:
        return JSONResponse({"error": "RecordNotFound", "description": "Not found"}, status_code=404)

    async def me(self, request: Request) -> Response:
        return JSONResponse({"user": {"id": 1, "email": self.email, "role": "agent"}})

    async def view_ticket(self, request: Request) -> Response:
        with self.lock:
            ticket = self.tickets.get(int(request.path_params["id"]))
            return self._not_found() if ticket is None else JSONResponse({"ticket": ticket})

    def _apply(self, ticket: dict[str, Any], body: dict[str, Any]) -> JSONResponse | None:
        for name in body:
            if name not in ("comment", "tags", "custom_fields", "group_id", "status", "subject", "requester_id", "external_id"):
                return invalid(name, "is not a ticket property")
        if "status" in body and body["status"] not in STATUSES:
            return invalid("status", "is not a valid status")
        if body.get("group_id") is not None and body["group_id"] not in self.groups:
            return invalid("group", "is invalid")
        for field in body.get("custom_fields", []):
            if field.get("id") == self.type_field_id and field.get("value") not in self.type_values:
                return invalid("custom_fields", f"{field.get('value')} is not a valid option")
        comment = body.get("comment")
        if comment is not None:
            text = str(comment.get("body") or "")
            self.comments[ticket["id"]].append({"id": next(self._comment_ids), "body": text, "plain_body": text, "public": comment.get("public", True)})
        for name in ("tags", "group_id", "status", "subject", "requester_id", "external_id"):
            if name in body:
                ticket[name] = body[name]
        for field in body.get("custom_fields", []):
            ticket["custom_fields"] = [f for f in ticket["custom_fields"] if f["id"] != field["id"]] + [field]
        ticket["updated_at"] = stamp(datetime.now(UTC))
        return None

    async def update_ticket(self, request: Request) -> Response:
        body = (await request.json()).get("ticket")
        with self.lock:
            ticket = self.tickets.get(int(request.path_params["id"]))
            if ticket is None:
                return self._not_found()
            if ticket["status"] == "closed":
                return invalid("status", "closed prevents ticket update")
            problem = self._apply(ticket, body)
            return problem or JSONResponse({"ticket": ticket})

    async def list_comments(self, request: Request) -> Response:
        with self.lock:
            ticket_id = int(request.path_params["id"])
            if ticket_id not in self.tickets:
                return self._not_found()
            return JSONResponse({"comments": list(self.comments[ticket_id]), "next_page": None})

    async def create_ticket(self, request: Request) -> Response:
        body = (await request.json()).get("ticket") or {}
        with self.lock:
            comment = body.get("comment") or {}
            if not comment.get("body"):
                return invalid("comment", "cannot be blank")
            ticket_id = self.add_ticket(str(body.get("subject") or ""), str(comment["body"]), status="new")
            self.comments[ticket_id][0]["public"] = comment.get("public", True)
            problem = self._apply(self.tickets[ticket_id], {k: v for k, v in body.items() if k != "comment"})
            return problem or JSONResponse({"ticket": self.tickets[ticket_id]}, status_code=201)

    async def list_tickets(self, request: Request) -> Response:
        external_id = request.query_params.get("external_id")
        with self.lock:
            found = [t for t in self.tickets.values() if external_id is None or t["external_id"] == external_id]
        return JSONResponse({"tickets": found, "next_page": None, "count": len(found)})

    async def ticket_field(self, request: Request) -> Response:
        if int(request.path_params["id"]) != self.type_field_id:
            return self._not_found()
        options = [{"name": value.title(), "value": value} for value in self.type_values]
        return JSONResponse({"ticket_field": {"id": self.type_field_id, "type": "tagger", "custom_field_options": options}})

    async def view_group(self, request: Request) -> Response:
        group_id = int(request.path_params["id"])
        return JSONResponse({"group": {"id": group_id}}) if group_id in self.groups else self._not_found()

    async def incremental(self, request: Request) -> Response:
        # The cursor here is "start_time:offset"; Zendesk's is opaque, and clients only pass it back.
        start, _, offset_text = request.query_params.get("cursor", f"{request.query_params.get('start_time', '0')}:0").partition(":")
        offset = int(offset_text)
        with self.lock:
            tickets = sorted((t for t in self.tickets.values() if t["generated_timestamp"] >= int(start)), key=lambda t: (t["generated_timestamp"], t["id"]))
            page = tickets[offset: offset + EXPORT_PAGE]
            end = offset + EXPORT_PAGE >= len(tickets)
        cursor = f"{start}:{offset + EXPORT_PAGE}"
        after = None if end else f"{self.base_url}/api/v2/incremental/tickets/cursor.json?{urlencode({'cursor': cursor})}"
        return JSONResponse({"tickets": page, "after_url": after, "after_cursor": None if end else cursor, "end_of_stream": end})
