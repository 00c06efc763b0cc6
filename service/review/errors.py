"""Errors of the review-queue store; the service maps each one to an HTTP status.

A database that cannot be reached is `service.db.errors.StoreUnavailable`; the errors here are
about items, and all of them are `StoreError`s.
"""

from __future__ import annotations

from datetime import datetime

from service.db.errors import StoreError


class ItemNotFound(StoreError, LookupError):
    """No review item has the given id (HTTP 404)."""

    def __init__(self, item_id: int):
        self.item_id = item_id
        super().__init__(f"review item {item_id} does not exist")


class DecisionConflict(StoreError):
    """The item was already decided, by whom and when (HTTP 409)."""

    def __init__(self, item_id: int, decided_by: str | None, decided_at: datetime | None, decided_label: str | None):
        self.item_id, self.decided_by, self.decided_at, self.decided_label = item_id, decided_by, decided_at, decided_label
        when = decided_at.isoformat() if decided_at else "an unknown time"
        super().__init__(f"review item {item_id} was already decided as '{decided_label}' by {decided_by} at {when}")


class ClaimConflict(StoreError):
    """Another reviewer holds an unexpired claim on the item (HTTP 409)."""

    def __init__(self, item_id: int, claimed_by: str | None, claimed_until: datetime | None):
        self.item_id, self.claimed_by, self.claimed_until = item_id, claimed_by, claimed_until
        until = claimed_until.isoformat() if claimed_until else "an unknown time"
        super().__init__(f"review item {item_id} is claimed by {claimed_by} until {until}")
