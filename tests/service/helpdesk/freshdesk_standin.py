"""A contract stand-in of the Freshdesk API v2 parts the connector uses, kept in memory.

As the documentation says: the API key is the Basic user name with `X` as the password (401
otherwise); errors are `{"description", "errors": [{"field", "message", "code"}]}`; an unknown
type or group is 400 `invalid_value`; updating a deleted ticket is 405; ticket lists take
`updated_since`, `include=description`, `order_by`/`order_type`, `per_page` (at most 100) and
`page` (at most 300), and link the next page with a `Link: <...>; rel="next"` header;
`description_text` is the description without markup; a child ticket names `parent_id` and the
parent lists it in `associated_tickets_list`.
"""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.service.helpdesk.standin import Handler, StandIn

STATUSES = (2, 3, 4, 5)
PRIORITIES = (1, 2, 3, 4)
MAX_PER_PAGE = 100
MAX_PAGE = 300
UPDATABLE = {"tags", "type", "group_id", "status", "priority"}


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def text_of(body: str) -> str:
    """Freshdesk's `*_text`: the HTML with tags removed and line breaks kept."""
    text = re.sub(r"<br\s*/?>", "\n", body)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def validation_error(field: str, message: str, code: str = "invalid_value") -> JSONResponse:
    return JSONResponse({"description": "Validation failed", "errors": [{"field": field, "message": message, "code": code}]}, status_code=400)


class FreshdeskStandIn(StandIn):
    """Tickets, conversations, ticket types and groups of one Freshdesk account."""

    def __init__(self, api_key: str = "fd-standin-key-0123456789", types: tuple[str, ...] = ("Question", "Problem", "Support", "Leveransuppgift"),
                 groups: tuple[int, ...] = (11, 22)):
        super().__init__()
        self.api_key = api_key
        self.types = list(types)
        self.groups = set(groups)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1000)
        self._conversation_ids = itertools.count(1)
        self.clock = lambda: datetime.now(UTC)

    def authorised(self, user: str, password: str) -> bool:
        return user == self.api_key and password == "X"

    def unauthorised(self) -> Response:
        return JSONResponse({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}, status_code=401)

    # --- test set-up ------------------------------------------------------------------------
    def add_ticket(self, subject: str, description: str, type: str | None = None, tags: tuple[str, ...] = (), status: int = 2,
                   updated_at: datetime | None = None) -> int:
        with self.lock:
            ticket_id = next(self._ids)
            now = updated_at or self.clock()
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": subject, "description": f"<div>{html.escape(description)}</div>", "description_text": description,
                "type": type, "tags": list(tags), "status": status, "priority": 1, "group_id": None, "requester_id": 5001, "parent_id": None,
                "associated_tickets_list": [], "deleted": False, "created_at": stamp(now), "updated_at": stamp(now),
            }
            self.conversations[ticket_id] = []
            return ticket_id

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.conversations.get(ticket_id, []) if c["private"]]

    def replies(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.conversations.get(ticket_id, []) if not c["private"] and c["source"] == 0]

    def touch(self, ticket_id: int, **fields: Any) -> None:
        """An agent edits the ticket now."""
        with self.lock:
            self.tickets[ticket_id].update(fields, updated_at=stamp(self.clock()))

    # --- the API ------------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v2/tickets", self.list_tickets),
            ("POST", "/api/v2/tickets", self.create_ticket),
            ("GET", "/api/v2/tickets/{id:int}", self.view_ticket),
            ("PUT", "/api/v2/tickets/{id:int}", self.update_ticket),
            ("POST", "/api/v2/tickets/{id:int}/notes", self.add_note),
            ("POST", "/api/v2/tickets/{id:int}/reply", self.reply),
            ("GET", "/api/v2/tickets/{id:int}/conversations", self.list_conversations),
            ("GET", "/api/v2/ticket_fields", self.ticket_fields),
            ("GET", "/api/v2/groups/{id:int}", self.view_group),
        ]

    def _ticket(self, request: Request) -> dict[str, Any] | None:
        return self.tickets.get(int(request.path_params["id"]))

    @staticmethod
    def _not_found() -> JSONResponse:
        return JSONResponse({"code": "not_found", "message": "The requested resource could not be found"}, status_code=404)

    def _public(self, ticket: dict[str, Any], with_description: bool = True) -> dict[str, Any]:
        shown = {k: v for k, v in ticket.items() if k != "associated_tickets_list" or v}
        if not with_description:
            shown.pop("description", None)
            shown.pop("description_text", None)
        return shown

    async def view_ticket(self, request: Request) -> Response:
        with self.lock:
            ticket = self._ticket(request)
            return self._not_found() if ticket is None else JSONResponse(self._public(ticket))

    async def update_ticket(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            ticket = self._ticket(request)
            if ticket is None:
                return self._not_found()
            if ticket["deleted"]:
                return JSONResponse({"code": "method_not_allowed", "message": "This ticket has been deleted"}, status_code=405)
            problem = self._check_fields(body, UPDATABLE)
            if problem is not None:
                return problem
            ticket.update(body, updated_at=stamp(self.clock()))
            return JSONResponse(self._public(ticket))

    def _check_fields(self, body: Any, allowed: set[str]) -> JSONResponse | None:
        if not isinstance(body, dict):
            return validation_error("body", "It should be a JSON object", "datatype_mismatch")
        for name in body:
            if name not in allowed:
                return validation_error(name, "Unexpected/invalid field in request", "invalid_field")
        if "type" in body and body["type"] not in self.types:
            return validation_error("type", f"It should be one of these values: '{','.join(self.types)}'")
        if body.get("group_id") is not None and body["group_id"] not in self.groups:
            return validation_error("group_id", "There is no group matching the given group_id")
        if "status" in body and body["status"] not in STATUSES:
            return validation_error("status", "It should be one of these values: '2,3,4,5'")
        if "tags" in body and not (isinstance(body["tags"], list) and all(isinstance(t, str) and len(t) <= 32 for t in body["tags"])):
            return validation_error("tags", "It should contain elements of type String only, each at most 32 characters", "datatype_mismatch")
        return None

    async def create_ticket(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            problem = self._check_fields(body, UPDATABLE | {"subject", "description", "requester_id", "email", "parent_id"})
            if problem is not None:
                return problem
            missing = [f for f in ("subject", "description") if not body.get(f)]
            if missing:
                return validation_error(missing[0], "It should not be blank as this is a mandatory field", "missing_field")
            if body.get("requester_id") is None and body.get("email") is None:
                return validation_error("requester_id", "Please fill at least 1 of email, requester_id fields", "missing_field")
            parent = self.tickets.get(body.get("parent_id") or -1)
            if body.get("parent_id") is not None and (parent is None or parent["deleted"]):
                return validation_error("parent_id", "There is no ticket matching the parent_id")
            ticket_id = self.add_ticket(body["subject"], text_of(body["description"]), body.get("type"), tuple(body.get("tags", ())),
                                        body.get("status", 2))
            ticket = self.tickets[ticket_id]
            ticket.update({k: v for k, v in body.items() if k in ("group_id", "priority", "requester_id", "parent_id")}, description=body["description"])
            if parent is not None:
                parent["associated_tickets_list"].append(ticket_id)
            return JSONResponse(self._public(ticket), status_code=201)

    def _add_conversation(self, request: Request, body: Any, private: bool, source: int) -> Response:
        ticket = self._ticket(request)
        if ticket is None:
            return self._not_found()
        if ticket["deleted"]:
            return JSONResponse({"code": "method_not_allowed", "message": "This ticket has been deleted"}, status_code=405)
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"].strip():
            return validation_error("body", "It should not be blank as this is a mandatory field", "missing_field")
        conversation = {"id": next(self._conversation_ids), "body": body["body"], "body_text": text_of(body["body"]), "private": private,
                        "incoming": False, "source": source, "ticket_id": ticket["id"],
                        "created_at": stamp(self.clock())}
        self.conversations[ticket["id"]].append(conversation)
        ticket["updated_at"] = stamp(self.clock())
        return JSONResponse(conversation, status_code=201)

    async def add_note(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            return self._add_conversation(request, body, bool(body.get("private", True)) if isinstance(body, dict) else True, source=2)

    async def reply(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            return self._add_conversation(request, body, private=False, source=0)

    def _page(self, request: Request, items: list[dict[str, Any]], path: str, query: dict[str, str]) -> Response:
        try:
            per_page = int(request.query_params.get("per_page", "30"))
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            return validation_error("page", "It should be a positive number", "datatype_mismatch")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return validation_error("per_page", f"It should be a Positive Number less than or equal to {MAX_PER_PAGE}")
        if not 1 <= page <= MAX_PAGE:
            return validation_error("page", f"It should be a Positive Number less than or equal to {MAX_PAGE}")
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items) and page < MAX_PAGE:
            link = f"{self.base_url}{path}?{urlencode({**query, 'per_page': per_page, 'page': page + 1})}"
            headers["Link"] = f'<{link}>; rel="next"'
        return JSONResponse(chunk, headers=headers)

    async def list_tickets(self, request: Request) -> Response:
        params = request.query_params
        since_text = params.get("updated_since")
        with self.lock:
            tickets = [t for t in self.tickets.values() if not t["deleted"]]
            if since_text:
                try:
                    since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
                except ValueError:
                    return validation_error("updated_since", "It should be in the 'YYYY-MM-DDTHH:MM:SSZ' format", "invalid_date")
                tickets = [t for t in tickets if datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")) >= since]
            else:
                cutoff = self.clock() - timedelta(days=30)  # without a filter, Freshdesk lists the last 30 days
                tickets = [t for t in tickets if datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) >= cutoff]
            key = params.get("order_by", "created_at")
            tickets.sort(key=lambda t: (t[key], t["id"]), reverse=params.get("order_type", "desc") == "desc")
            shown = [self._public(t, with_description=params.get("include") == "description") for t in tickets]
        query = {k: v for k, v in params.items() if k not in ("page", "per_page")}
        return self._page(request, shown, "/api/v2/tickets", query)

    async def list_conversations(self, request: Request) -> Response:
        with self.lock:
            ticket = self._ticket(request)
            if ticket is None:
                return self._not_found()
            items = list(self.conversations[ticket["id"]])
        return self._page(request, items, f"/api/v2/tickets/{ticket['id']}/conversations", {})

    async def ticket_fields(self, request: Request) -> Response:
        fields = [{"id": 1, "name": "ticket_type", "label": "Type", "type": "default_ticket_type", "choices": list(self.types)}]
        wanted = request.query_params.get("type")
        return JSONResponse([f for f in fields if wanted in (None, f["type"])])

    async def view_group(self, request: Request) -> Response:
        group_id = int(request.path_params["id"])
        return JSONResponse({"id": group_id, "name": f"Group {group_id}"}) if group_id in self.groups else self._not_found()
