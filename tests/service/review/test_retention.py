"""Retention: the service deletes review items decided more than TRIAGE_RETENTION_DAYS ago, at
start-up and then periodically; undecided items and recent decisions stay.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.config import ConfigError, load_settings
from service.review.errors import ItemNotFound
from service.review.retention import purge_forever, purge_once
from service.review.store import ReviewStore
from tests.service.conftest import ClientFactory
from tests.service.review.review_store_helpers import FakeClock, new_item


def _decided_days_ago(url: str, ticket_id: str, days: float | None) -> int:
    """Queue an item (created 400 days ago) and decide it `days` ago (None: leave it undecided); its id."""
    clock = FakeClock(datetime.now(UTC) - timedelta(days=400))
    with ReviewStore(url, clock=clock) as store:
        store.migrate()
        item = store.enqueue(new_item(ticket_id=ticket_id))
        if days is not None:
            clock.now = datetime.now(UTC) - timedelta(days=days)
            store.decide(item.id, "support", "agent-a")
    return item.id


def _exists(url: str, item_id: int) -> bool:
    with ReviewStore(url) as store:
        try:
            store.get(item_id)
        except ItemNotFound:
            return False
    return True


def test_the_service_purges_old_decisions_at_start_up(make_client: ClientFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    old, recent, waiting = _decided_days_ago(url, "old", 31), _decided_days_ago(url, "recent", 29), _decided_days_ago(url, "waiting", None)
    make_client(database_url=url, retention_days=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _exists(url, old):
        time.sleep(0.05)
    assert not _exists(url, old), "an item decided 31 days ago is deleted with a 30-day retention"
    assert _exists(url, recent), "an item decided 29 days ago is kept"
    assert _exists(url, waiting), "an undecided item is kept however old: it still waits for an agent"


def test_the_purge_repeats_and_survives_a_database_failure(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    _decided_days_ago(url, "first", 10)

    async def run_until_second_item_is_gone() -> None:
        task = asyncio.create_task(purge_forever(ReviewStore(url), retention_days=5, interval=0.05))
        await asyncio.sleep(0.2)
        second = _decided_days_ago(url, "second", 10)  # appears after the first purge
        for _ in range(100):
            if not _exists(url, second):
                break
            await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(run_until_second_item_is_gone())
    with ReviewStore(url) as store:
        assert store.decided() == [], "every purge pass deletes what has passed the retention period since the last one"

    broken = ReviewStore(f"sqlite:///{tmp_path}")  # a directory: the database cannot be opened
    assert purge_once(broken, 5) is None, "a failed purge reports None instead of raising"
    assert any("retention purge failed" in r.getMessage() for r in caplog.records), "a failed purge is logged"


def test_the_retention_period_is_validated() -> None:
    with pytest.raises(ConfigError, match="TRIAGE_RETENTION_DAYS.*greater than or equal to 1"):
        load_settings({"model": None, "retention_days": 0})
    assert load_settings({"model": None}).retention_days == 365, "decided items are kept a year by default"
