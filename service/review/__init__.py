"""Review: tickets the model was unsure about, queued, claimed and decided by agents (API and web page),
and blind audits of a share of the tickets it routed by itself, which measure its live precision.

The rest of the service uses the feature through the names below: `service.deps` carries the
`ReviewHook`, the `LivePrecisionWatch` and the page's `SessionCodec`, and the prediction
endpoints hand the hook a `NewReviewItem` for every ticket routed to review and for every
ticket `picked_for_audit` (`ReviewQueueFull` when it cannot take one). The helpdesk feature
does the same for the tickets it classifies, and registers a `DecisionListener`
(`ReviewStore.on_decision`) to write the agents' decisions back. `service.app` mounts the
feature's routers.
"""

from service.review.audit import audit_key, audit_ticket_id, picked_for_audit
from service.review.hook import ReviewHook, ReviewQueueFull, open_review_hook
from service.review.items import NewReviewItem, ReviewItem
from service.review.live_precision import LivePrecisionWatch
from service.review.session import SessionCodec
from service.review.store import DecisionListener, ReviewStore

__all__ = ["DecisionListener", "LivePrecisionWatch", "NewReviewItem", "ReviewHook", "ReviewItem", "ReviewQueueFull", "ReviewStore",
           "SessionCodec", "audit_key", "audit_ticket_id", "open_review_hook", "picked_for_audit"]
