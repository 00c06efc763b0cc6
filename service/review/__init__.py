"""Review: tickets the model was unsure about, queued, claimed and decided by agents (API and web page).

The rest of the service uses the feature through the names below: `service.deps` carries the
`ReviewHook` and the page's `SessionCodec`, and the prediction endpoints hand it a
`NewReviewItem` for every ticket routed to review (`ReviewQueueFull` when it cannot take one). `service.app` mounts the feature's routers.
"""

from service.review.hook import ReviewHook, ReviewQueueFull
from service.review.items import NewReviewItem
from service.review.session import SessionCodec

__all__ = ["NewReviewItem", "ReviewHook", "ReviewQueueFull", "SessionCodec"]
