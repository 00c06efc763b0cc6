"""Hand tickets routed to review to the review store, holding them in memory while it is down.

While the database is unavailable, review items wait in a bounded buffer that a background task
flushes, oldest first, once the database is back. While anything waits there, new items queue
behind it (so a later prediction for a ticket never gets overwritten by an earlier one) and no
request waits on a down database. When the buffer is full, the response says the ticket was
not queued; nothing is dropped without the caller and the log knowing.

Audits (tickets the model routed by itself, sampled to measure its precision) go straight to
the database or not at all: they never take a place in the buffer that a ticket waiting for a
routing decision needs. One the database cannot take is counted in
`triage_audits_skipped_total`; the sample is smaller, not biased, since an outage does not pick
tickets by their content.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass

import anyio.to_thread

from service.db.errors import StoreError, StoreUnavailable
from service.metrics import Metrics
from service.review.items import NewReviewItem
from service.review.store import ReviewStore

log = logging.getLogger("triage.review")


@dataclass(frozen=True)
class Handoff:
    """What happened to one review item: queued now (with the store's id), buffered, or refused."""

    queued: bool
    item_id: int | None = None
    warning: str | None = None


class ReviewHook:
    """The review store plus the retry buffer in front of it."""

    def __init__(self, store: ReviewStore, capacity: int, metrics: Metrics):
        self.store = store
        self.capacity = capacity
        self.metrics = metrics
        self._buffer: deque[NewReviewItem] = deque()
        self._lock = threading.Lock()  # guards the buffer and keeps flushes in order
        self._needs_migration = False
        metrics.watch_review_buffer(self.buffered)

    def buffered(self) -> int:
        """How many review items wait for the database."""
        return len(self._buffer)

    @property
    def available(self) -> bool:
        """Whether items go straight to the database (nothing waits in the buffer)."""
        return not self._buffer and not self._needs_migration

    def start(self) -> None:
        """Bring the schema up to date; if the database is down, buffer until it is back."""
        try:
            self.store.migrate()
        except StoreUnavailable as e:
            self._needs_migration = True
            log.error("review store unavailable at start-up; review items will be buffered until it is back",
                      extra={"fields": {"reason": str(e)}})

    def submit(self, item: NewReviewItem) -> Handoff:
        """Queue an item, or buffer it if the database is (or recently was) unavailable."""
        if item.audit:
            return self._submit_audit(item)
        if self.available:
            try:
                stored = self.store.enqueue(item)
                return Handoff(queued=True, item_id=stored.id)
            except StoreUnavailable as e:
                log.warning("review store unavailable; buffering review items", extra={"fields": {"reason": str(e)}})
            except StoreError as e:
                return self._rejected(e)
        with self._lock:
            if len(self._buffer) >= self.capacity:
                log.error("review buffer full; a review item was not queued", extra={"fields": {"capacity": self.capacity}})
                return Handoff(queued=False, warning=(
                    f"the review queue's database is unavailable and its retry buffer is full ({self.capacity} items); "
                    "this ticket was NOT queued for review: send it again later"))
            self._buffer.append(item)
            waiting = len(self._buffer)
        return Handoff(queued=False, warning=(
            f"the review queue's database is unavailable; this ticket waits in memory ({waiting} waiting) "
            "and will be queued for review when the database is back"))

    def _submit_audit(self, item: NewReviewItem) -> Handoff:
        """Queue an audit now, or skip it (counted and logged) when the database cannot take it."""
        reason = "database_unavailable"
        if self.available:
            try:
                return Handoff(queued=True, item_id=self.store.enqueue(item).id)
            except StoreUnavailable as e:
                log.warning("review store unavailable; an audit was skipped", extra={"fields": {"reason": str(e)}})
            except StoreError as e:
                reason = "rejected"
                log.error("review store rejected an audit", extra={"fields": {"reason": str(e)}})
        self.metrics.audits_skipped.labels(reason).inc()
        return Handoff(queued=False)

    def _rejected(self, error: StoreError) -> Handoff:
        self.metrics.review_failures.inc()
        log.error("review store rejected a review item", extra={"fields": {"reason": str(error)}})
        return Handoff(queued=False, warning=f"this ticket could not be queued for review: {error}")

    def flush(self) -> int:
        """Move buffered items into the store, oldest first, until it fails; return how many moved."""
        moved = 0
        with self._lock:
            try:
                if self._needs_migration:
                    self.store.migrate()
                    self._needs_migration = False
                while self._buffer:
                    try:
                        self.store.enqueue(self._buffer[0])
                    except StoreUnavailable:
                        raise
                    except StoreError as e:
                        self._rejected(e)  # a rejected item would block the rest forever
                    self._buffer.popleft()
                    moved += 1
            except StoreUnavailable:
                pass  # still down: the items wait for the next attempt
            except StoreError as e:
                log.error("review store migration failed; review items stay buffered", extra={"fields": {"reason": str(e)}})
        if moved:
            log.info("review buffer flushed", extra={"fields": {"moved": moved, "waiting": len(self._buffer)}})
        return moved

    async def flush_forever(self, interval: float) -> None:
        """Flush the buffer every `interval` seconds while it holds anything (background task)."""
        while True:
            await asyncio.sleep(interval)
            if not self.available:
                try:
                    await anyio.to_thread.run_sync(self.flush)
                except Exception:  # a background task that died would leave the buffer unflushed unnoticed
                    log.exception("review buffer flush failed")
