"""Helpers shared by the review-store tests (importable, unlike conftest)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from service.review.items import NewReviewItem

ItemFactory = Callable[..., NewReviewItem]  # the make_item fixture


class FakeClock:
    """A settable clock for the store, so claim expiry and retention need no sleeping."""

    def __init__(self, start: datetime = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def new_item(**overrides: Any) -> NewReviewItem:
    """A valid NewReviewItem; keyword arguments replace its fields."""
    fields: dict[str, Any] = {
        "subject": "Inloggning fungerar inte",
        "body": "Hej, ingen elev kommer in via Skolfederation sedan i morse.",
        "model_label": "support",
        "confidence": 0.55,
        "probabilities": {"support": 0.55, "delivery": 0.45},
        "model_version": "20250301-0001",
    }
    fields.update(overrides)
    return NewReviewItem(**fields)
