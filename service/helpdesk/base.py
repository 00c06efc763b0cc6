"""The connector interface every helpdesk implements (`Connector`), the plain data it hands back,
and the errors that tell the worker what to do next: wait (`RateLimited`), retry with backoff
(`HelpdeskUnavailable`) or give up and dead-letter the job (`HelpdeskRejected`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class HelpdeskTicket:
    """A ticket as the worker needs it; `type` is None when nobody has set one."""

    id: str
    subject: str
    text: str
    type: str | None
    tags: tuple[str, ...]
    updated_at: datetime
    open: bool  # neither resolved nor closed
    requester_id: int | None = None


@dataclass(frozen=True)
class TicketChange:
    """Fields to write to a ticket; None leaves a field as it is. `tags` is the whole new tag list."""

    tags: Sequence[str] | None = None
    type: str | None = None
    group_id: int | None = None


@dataclass(frozen=True)
class ExportedTicket:
    """A ticket read for training data: its text and its type (the label, once mapped)."""

    id: str
    subject: str
    text: str
    type: str | None
    updated_at: datetime


class ConnectorProblem(Exception):
    """The helpdesk answered that a setting cannot work (a refused key, an unknown type or group)."""


class HelpdeskError(Exception):
    """A failed call to a helpdesk. `code` is the helpdesk's error code (logged); the message never quotes ticket text."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code, self.status = code, status


class RateLimited(HelpdeskError):
    """429: the helpdesk says when to come back."""

    def __init__(self, retry_after: float, status: int = 429):
        super().__init__("rate_limited", f"rate limited; retry after {retry_after:.0f} s", status)
        self.retry_after = retry_after


class HelpdeskUnavailable(HelpdeskError):
    """5xx, a timeout or no connection: worth retrying later."""


class HelpdeskRejected(HelpdeskError):
    """4xx other than 429 (a validation error, a deleted ticket, a refused key): retrying would not help."""


class Connector(Protocol):
    """What the worker, the start-up check and `triage import-*` need from a helpdesk.

    Every method raises a `HelpdeskError` subclass when the call fails. Methods that create
    something (`add_note`, `reply`, `create_delivery_task`) have a `find_*` partner, so a job
    that was interrupted after the call but before recording it can check instead of repeating.
    """

    name: str

    def verify(self, type_names: Sequence[str], group_ids: Sequence[int]) -> None:
        """Check the credentials, and that the type names and groups exist; `ConnectorProblem` says what to fix."""
        ...

    def fetch(self, ticket_id: str) -> HelpdeskTicket:
        """The ticket with its plain-text description."""
        ...

    def add_note(self, ticket_id: str, text: str) -> None:
        """Add a private note (agents only) holding `text`."""
        ...

    def has_note(self, ticket_id: str, marker: str) -> bool:
        """Whether a private note containing `marker` exists on the ticket."""
        ...

    def update(self, ticket_id: str, change: TicketChange) -> None:
        """Write the given fields."""
        ...

    def reply(self, ticket_id: str, text: str) -> None:
        """Send `text` to the requester as a public reply."""
        ...

    def has_reply(self, ticket_id: str, text: str) -> bool:
        """Whether a public reply with this text was sent on the ticket."""
        ...

    def create_delivery_task(self, parent: HelpdeskTicket, subject: str, text: str, group_id: int, marker: str) -> str:
        """Create the internal delivery task for `parent` in the group; return its id."""
        ...

    def find_delivery_task(self, parent: HelpdeskTicket, marker: str) -> str | None:
        """The id of a delivery task created with `marker` for `parent`, if one exists."""
        ...

    def close(self, ticket_id: str) -> None:
        """Close (or solve) the ticket."""
        ...

    def export(self, since: datetime) -> Iterator[ExportedTicket]:
        """Every ticket updated since `since`, oldest update first, each once."""
        ...

    def close_client(self) -> None:
        """Release the HTTP connections."""
        ...
