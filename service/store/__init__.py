"""The review queue's persistence: low-confidence tickets, agents' decisions, training exports.

Use `ReviewStore`; everything it takes and returns is plain data (`NewReviewItem`,
`ReviewItem`, `ExportSummary`), and every failure is a `StoreError` subclass.
"""

from service.store.errors import ClaimConflict, DecisionConflict, ItemNotFound, StoreError, StoreUnavailable
from service.store.items import NewReviewItem, ReviewItem
from service.store.store import MAX_PAGE_SIZE, ReviewStore
from service.store.training import Agreement, ExportSummary

__all__ = [
    "MAX_PAGE_SIZE",
    "Agreement",
    "ClaimConflict",
    "DecisionConflict",
    "ExportSummary",
    "ItemNotFound",
    "NewReviewItem",
    "ReviewItem",
    "ReviewStore",
    "StoreError",
    "StoreUnavailable",
]
