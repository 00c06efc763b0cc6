"""Review: tickets the model was unsure about, queued, claimed and decided by agents (API and web page),
and blind audits of a share of the tickets it routed by itself, which measure its live precision.

The rest of the service uses the feature through the names below: `service.deps` carries the
`ReviewHook`, the `LivePrecisionWatch` and the page's `SessionCodec`, and the prediction
endpoints hand the hook a `NewReviewItem` for every ticket routed to review and for every
ticket `picked_for_audit` (`ReviewQueueFull` when it cannot take one). `service.app` mounts the
feature's routers.
"""

from service.review.audit import audit_key, audit_ticket_id, picked_for_audit
from service.review.hook import ReviewHook, ReviewQueueFull
from service.review.items import NewReviewItem
from service.review.live_precision import LivePrecisionWatch
from service.review.session import SessionCodec

__all__ = ["LivePrecisionWatch", "NewReviewItem", "ReviewHook", "ReviewQueueFull", "SessionCodec", "audit_key", "audit_ticket_id",
           "picked_for_audit"]
