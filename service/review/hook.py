"""Hand tickets routed to review to the review store, holding them in the retry buffer while it is down.

While the database is unavailable (down, or slower than `TRIAGE_DATABASE_TIMEOUT` to take a
write; a background check looks every retry interval, even when no ticket comes), review items
wait in the retry buffer on local disk (`service.review.buffer`), which a background task
flushes, oldest first, once the database is back. While anything waits there,
new items queue behind it (so a later prediction for a ticket never gets overwritten by an
earlier one) and no request waits on the database at all. When the buffer cannot take an item
(full, or its file cannot be written), `submit` raises `ReviewQueueFull` and the prediction
endpoints answer 503 with `Retry-After`: the client resends, and no ticket is acknowledged that
will not reach the queue.

Database writes on the request path run in worker threads of their own (`limiter`), so a slow
database can hold at most HANDOFF_THREADS of them and never starves the threads the rest of
the service runs on; flushing never holds a lock that `submit` waits for.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from dataclasses import dataclass

import anyio
import anyio.to_thread

from service.db.errors import StoreError, StoreUnavailable
from service.metrics import Metrics
from service.review.buffer import BufferFull, RetryBuffer, ready_to_buffer
from service.review.items import NewReviewItem
from service.review.store import ReviewStore

log = logging.getLogger("triage.review")
HANDOFF_THREADS = 8  # database writes of predictions at once; more wait their turn (briefly: writes are bounded by the timeout)


@dataclass(frozen=True)
class Handoff:
    """What happened to one review item: queued now (with the store's id), buffered, or refused by the store."""

    queued: bool
    item_id: int | None = None
    warning: str | None = None


class ReviewQueueFull(Exception):
    """The item could not be held: the database is unavailable and the retry buffer cannot take it (answer 503)."""

    def __init__(self, reason: str, retry_after: int):
        super().__init__(reason)
        self.retry_after = retry_after


class ReviewHook:
    """The review store plus the retry buffer in front of it."""

    def __init__(self, store: ReviewStore, buffer: RetryBuffer, metrics: Metrics, retry_interval: float):
        self.store = store
        self.buffer = buffer
        self.metrics = metrics
        self.retry_after = max(1, math.ceil(retry_interval))  # when a refused client should try again: after the next flush
        self.limiter = anyio.CapacityLimiter(HANDOFF_THREADS)
        self._flush_lock = threading.Lock()  # one flush at a time; `submit` never takes it
        self._needs_migration = False
        self._store_down = False  # the last write or check found the database unavailable
        self._refusing = False  # the last item offered to the buffer was refused
        metrics.watch_review_buffer(lambda: len(self.buffer), lambda: self.buffer.size_bytes)

    def buffered(self) -> int:
        """How many review items wait for the database."""
        return len(self.buffer)

    @property
    def available(self) -> bool:
        """Whether items go straight to the database (it answered last time, and nothing waits in the buffer)."""
        return not self._store_down and not len(self.buffer) and not self._needs_migration

    @property
    def refusing(self) -> bool:
        """Whether the buffer refused the last item it was offered (and nothing was flushed since)."""
        return self._refusing

    def start(self) -> None:
        """Bring the schema up to date; if the database is down, buffer until it is back."""
        if len(self.buffer):
            log.warning("review items wait in the retry buffer from an earlier run; they are queued once the database answers",
                        extra={"fields": {"waiting": len(self.buffer), "buffer": str(self.buffer.path)}})
        try:
            self.store.migrate()
        except StoreUnavailable as e:
            self._needs_migration = True
            log.error("review store unavailable at start-up; review items will be buffered until it is back",
                      extra={"fields": {"reason": str(e)}})

    def submit(self, item: NewReviewItem) -> Handoff:
        """Queue an item, or buffer it if the database is (or recently was) unavailable; ReviewQueueFull if neither can take it."""
        if self.available:
            try:
                stored = self.store.enqueue(item)
                return Handoff(queued=True, item_id=stored.id)
            except StoreUnavailable as e:
                self._store_down = True  # the next requests go to the buffer without waiting for the database
                log.warning("review store unavailable; buffering review items", extra={"fields": {"reason": str(e)}})
            except StoreError as e:
                return self._rejected(e)
        try:
            waiting = self.buffer.append(ready_to_buffer(item))
        except BufferFull as e:
            self._refusing = True
            self.metrics.review_refused.inc()
            log.error("review retry buffer cannot take an item; the prediction is answered 503",
                      extra={"fields": {"reason": str(e), "waiting": len(self.buffer)}})
            raise ReviewQueueFull(str(e), self.retry_after) from None
        self._refusing = False
        return Handoff(queued=False, warning=(
            f"the review queue's database is unavailable; this ticket waits in the retry buffer on the service's disk ({waiting} waiting) "
            "and will be queued for review when the database is back"))

    def _rejected(self, error: StoreError) -> Handoff:
        self.metrics.review_failures.inc()
        log.error("review store rejected a review item", extra={"fields": {"reason": str(error)}})
        return Handoff(queued=False, warning=f"this ticket could not be queued for review: {error}")

    def flush(self) -> int:
        """Move buffered items into the store, oldest first, until it fails; return how many moved."""
        if not self._flush_lock.acquire(blocking=False):
            return 0  # a flush is running already
        moved = 0
        try:
            with self.buffer.flushing() as ours:
                if not ours:
                    return 0  # another process flushes this buffer file
                if self._needs_migration:
                    self.store.migrate()
                    self._needs_migration = False
                    self._store_down = False
                while (oldest := self.buffer.oldest()) is not None:
                    seq, item = oldest
                    try:
                        self.store.enqueue(item)
                    except StoreUnavailable:
                        raise
                    except StoreError as e:
                        self._rejected(e)  # a rejected item would block the rest forever
                    self.buffer.remove(seq)
                    moved += 1
                    self._refusing = False
                    self._store_down = False  # it took a write
        except StoreUnavailable:
            self._store_down = True  # still down: the items wait for the next attempt
        except StoreError as e:
            log.error("review store migration failed; review items stay buffered", extra={"fields": {"reason": str(e)}})
        finally:
            self._flush_lock.release()
        if moved:
            log.info("review buffer flushed", extra={"fields": {"moved": moved, "waiting": len(self.buffer)}})
        return moved

    def check(self) -> None:
        """See whether the database answers, so readiness and the next request know before a ticket waits on it."""
        was_down = self._store_down
        try:
            self.store.ping()
        except StoreUnavailable as e:
            self._store_down = True
            if not was_down:
                log.error("review store unavailable; review items will be buffered until it is back", extra={"fields": {"reason": str(e)}})
            return
        except StoreError:
            return  # answering, with some other fault: writes will say which
        if not len(self.buffer) and not self._needs_migration:
            self._store_down = False  # with items waiting, only a successful flush says the database takes writes again

    async def flush_forever(self, interval: float) -> None:
        """Every `interval` seconds, check the database and flush the buffer while it holds anything (background task)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await anyio.to_thread.run_sync(self.check)
                if not self.available:
                    await anyio.to_thread.run_sync(self.flush)
            except Exception:  # a background task that died would leave the buffer unflushed unnoticed
                log.exception("review buffer flush failed")

    def close(self) -> None:
        """Close the store's connections and the buffer's file."""
        self.store.close()
        self.buffer.close()
