"""The review queue as the API and the agents' page use it: moving through it, exporting it,
publishing the model-agreement metrics, and turning store errors into API errors.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

from service.db.errors import StoreError, StoreUnavailable
from service.errors import ApiError
from service.metrics import Metrics
from service.review.errors import ClaimConflict, DecisionConflict, ItemNotFound
from service.review.items import ReviewItem
from service.review.store import MAX_PAGE_SIZE, ReviewStore
from service.review.training import ExportSummary, write_training_csv

log = logging.getLogger("triage.review")
Direction = Literal["next", "previous"]
CLAIM_ATTEMPTS = 5  # another agent may take the chosen item first; then the one after it is tried
STORE_RETRY_AFTER_SECONDS = 5  # what a 503 for an unavailable database tells the client to wait


def queue_key(item: ReviewItem) -> tuple[float, datetime, int]:
    """An item's place in the queue: most uncertain first, then oldest (the store's order)."""
    return (item.confidence, item.created_at, item.id)


def claim_neighbour(store: ReviewStore, reviewer: str, after: ReviewItem | None, direction: Direction = "next") -> ReviewItem | None:
    """Claim the pending item after (or before) `after` in queue order, wrapping around; None when none is free.

    With `after=None` the queue's first item is claimed. Items the reviewer holds count as pending.
    """
    # One page of the queue is enough to find a neighbour; an agent works near its head.
    pending = [item for item in store.list_pending(limit=MAX_PAGE_SIZE, reviewer=reviewer) if after is None or item.id != after.id]
    if after is not None:
        key = queue_key(after)
        if direction == "next":
            later = [item for item in pending if queue_key(item) > key]
            pending = later + [item for item in pending if queue_key(item) < key]
        else:
            earlier = [item for item in pending if queue_key(item) < key]
            pending = earlier[::-1] + [item for item in pending if queue_key(item) > key][::-1]
    for candidate in pending[:CLAIM_ATTEMPTS]:
        try:
            return store.claim(candidate.id, reviewer)
        except (ClaimConflict, DecisionConflict, ItemNotFound):
            continue  # taken, decided or purged since the list was read
    return None


def refresh_agreement(store: ReviewStore, metrics: Metrics) -> None:
    """Publish the agreement between the model and the agents' decisions; a down database leaves the old figures."""
    try:
        agreement = store.agreement()
    except StoreError as e:
        log.warning("review agreement not refreshed", extra={"fields": {"reason": str(e)}})
        return
    metrics.set_review_agreement(agreement["agreement"], agreement["per_label"], agreement["per_label_agreement"])


def export_csv(store: ReviewStore, since: datetime | None = None) -> tuple[str, ExportSummary]:
    """Decided items as the CLI's labelled ticket CSV (the same writer as `triage export-reviews`), with its summary."""
    with tempfile.TemporaryDirectory(prefix="triage-export-") as folder:
        summary = write_training_csv(store.decided(since), Path(folder) / "reviews.csv")
        return summary.path.read_text(encoding="utf-8"), summary


@contextmanager
def api_errors(action: str) -> Iterator[None]:
    """Turn the store's errors into API errors: 404 unknown id, 409 conflicts, 422 bad values, 503 no database."""
    try:
        yield
    except ItemNotFound as e:
        raise ApiError(404, "review_item_not_found", f"{e}; list the pending items with GET /v1/review/items") from None
    except DecisionConflict as e:
        details = {"decided_label": e.decided_label, "decided_by": e.decided_by,
                   "decided_at": e.decided_at.isoformat() if e.decided_at else None}
        raise ApiError(409, "already_decided", f"{e}; the first decision stands and yours was not recorded", details=details) from None
    except ClaimConflict as e:
        details = {"claimed_by": e.claimed_by, "claimed_until": e.claimed_until.isoformat() if e.claimed_until else None}
        raise ApiError(409, "claimed_by_another",
                       f"{e}; pick another item, or wait until the claim expires (nothing was recorded)", details=details) from None
    except StoreUnavailable as e:
        raise ApiError(503, "review_store_unavailable", f"{e}; nothing was {action}, try again shortly",
                       headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)}) from None
    except StoreError as e:
        raise ApiError(503, "review_store_error", f"{e}; nothing was {action}") from None
    except ValueError as e:  # the store's checks of labels, names, notes and paging
        raise ApiError(422, "invalid_request", str(e)) from None
