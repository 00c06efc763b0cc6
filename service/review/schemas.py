"""Request and response bodies of the review queue's API (`/v1/review`), named by role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.bodies import RequestBody
from service.review.items import NAME_LENGTH, NOTE_LENGTH, ReviewItem

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH)]


class ReviewItemResponse(BaseModel):
    """A ticket in the review queue (text already redacted), with its claim and decision if any."""

    id: int = Field(description="the queue's id of the item")
    ticket_id: str = Field(description="the ticket id sent to /v1/predict, or one the queue generated")
    subject: str
    body: str
    language: str = Field(description="`sv`, `en`, `mixed` or `unknown`")
    model_label: str = Field(description="the most probable label when the ticket was queued")
    confidence: float
    probabilities: dict[str, float]
    model_version: str = Field(description="the model version that queued the ticket")
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None = Field(description="who holds the item now (until `claimed_until`)")
    claimed_until: datetime | None
    decided_label: str | None = Field(description="the agent's label, once decided")
    decided_by: str | None
    decided_at: datetime | None
    note: str | None = Field(description="the agent's note (redacted)")

    @classmethod
    def of(cls, item: ReviewItem) -> ReviewItemResponse:
        """The response for a stored item."""
        return cls.model_validate(item, from_attributes=True)


class ReviewQueueResponse(BaseModel):
    """One page of pending items, most uncertain first, then oldest."""

    total: int = Field(description="pending items in all (what paging goes through)")
    limit: int
    offset: int
    items: list[ReviewItemResponse]


class ClaimRequest(RequestBody):
    """Who takes the item; the claim lasts `TRIAGE_CLAIM_TTL_SECONDS`, then the item returns to the queue."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reviewer": "Anna"}]})

    reviewer: Name = Field(description="the agent's name, recorded with the claim")


class DecisionRequest(RequestBody):
    """An agent's label for an item; only the first decision on an item counts."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"label": "delivery", "reviewer": "Anna", "note": "New school unit in the sync: a configuration change."}]
    })

    label: Name = Field(description="one of the model's labels (see GET /v1/model)")
    reviewer: Name = Field(description="the agent's name, recorded with the decision")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_LENGTH)] | None = Field(
        default=None, description="optional; e-mail addresses, phone numbers and personnummer are removed before it is stored")


class ReviewSummaryResponse(BaseModel):
    """The queue's size and how often the agents agreed with the model."""

    pending: int = Field(description="items waiting for a decision")
    decided: int = Field(description="decisions recorded")
    per_label: dict[str, int] = Field(description="decisions per decided label")
    agreement: float | None = Field(description="share of decisions equal to the model's label; null before the first decision")
    per_label_agreement: dict[str, float] = Field(description="per decided label, the share the model had labelled the same")
