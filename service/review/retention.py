"""Retention of the review queue: decided items are deleted `TRIAGE_RETENTION_DAYS` after the decision.

The service purges once at start-up and then every `RETENTION_CHECK_SECONDS` in a background
task; `triage purge-reviews --older-than-days N` does the same on demand. Undecided items are
kept however old they are: they still wait for an agent.
"""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread

from service.db.errors import StoreError
from service.review.store import ReviewStore

log = logging.getLogger("triage.retention")
RETENTION_CHECK_SECONDS = 3600.0  # an hour late at worst, for a period counted in days


def purge_once(store: ReviewStore, retention_days: int) -> int | None:
    """Delete the items decided more than `retention_days` ago; how many, or None if the database failed (logged)."""
    try:
        removed = store.purge_decided(retention_days)
    except StoreError as e:
        log.warning("retention purge failed; retried at the next check", extra={"fields": {"reason": str(e)}})
        return None
    if removed:
        log.info("decided review items past retention deleted", extra={"fields": {"removed": removed, "retention_days": retention_days}})
    return removed


async def purge_forever(store: ReviewStore, retention_days: int, interval: float = RETENTION_CHECK_SECONDS) -> None:
    """Purge now and then every `interval` seconds (background task)."""
    while True:
        try:
            await anyio.to_thread.run_sync(purge_once, store, retention_days)
        except Exception:  # a task that died would stop the purges unnoticed
            log.exception("retention purge failed")
        await asyncio.sleep(interval)
