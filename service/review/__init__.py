"""Review: tickets the model was unsure about, queued, claimed and decided by agents (API and web page).

The rest of the service uses the feature through the names below: `service.deps` carries the
`ReviewHook` and the page's `SessionCodec`, and the prediction endpoints hand it a
`NewReviewItem` for every ticket routed to review. The helpdesk feature does the same for the
tickets it classifies, and registers a `DecisionListener` (`ReviewStore.on_decision`) to write
the agents' decisions back. `service.app` mounts the feature's routers.
"""

from service.review.hook import ReviewHook
from service.review.items import NewReviewItem, ReviewItem
from service.review.session import SessionCodec
from service.review.store import DecisionListener, ReviewStore

__all__ = ["DecisionListener", "NewReviewItem", "ReviewHook", "ReviewItem", "ReviewStore", "SessionCodec"]
