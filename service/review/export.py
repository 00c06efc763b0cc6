"""The functions behind `triage export-reviews` and the retention purge, for the CLI, and the live
precision the retraining notebook reads: each opens the service's database by its URL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc

from service.db.errors import StoreError
from service.review.live_precision import LivePrecision, measure
from service.review.store import ReviewStore
from service.review.training import ExportSummary


def _open_existing(database_url: str) -> ReviewStore:
    """Open a store that must already exist: a mistyped SQLite path must not create a new, empty one."""
    try:
        url = sa.make_url(database_url)
    except exc.ArgumentError:
        url = None  # ReviewStore reports the malformed URL
    if url is not None and url.get_backend_name() == "sqlite" and url.database and not Path(url.database).expanduser().is_file():
        raise StoreError(f"no review database at {url.database}; check the --database path")
    store = ReviewStore(database_url)
    try:
        store.check_tables()
    except BaseException:
        store.close()
        raise
    return store


def export_reviews(database_url: str, out: str | Path) -> ExportSummary:
    """Write every decided review item to `out` as a labelled ticket CSV and summarise it."""
    store = _open_existing(database_url)
    try:
        return store.export_training_file(Path(out))
    finally:
        store.close()


def purge_reviews(database_url: str, older_than_days: int) -> int:
    """Delete review items decided more than `older_than_days` days ago; returns how many."""
    store = _open_existing(database_url)
    try:
        return store.purge_decided(older_than_days)
    finally:
        store.close()


def read_live_precision(database_url: str, model_version: str, labels: Sequence[str], target: float | None, window_days: int) -> LivePrecision:
    """Live precision of `model_version` from its audits decided in the last `window_days` days, as the service computes it."""
    store = _open_existing(database_url)
    try:
        return measure(store, model_version, list(labels), target, window_days)
    finally:
        store.close()
