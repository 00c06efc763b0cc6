"""Request and response bodies of the review queue's API (`/v1/review`), named by role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.bodies import RequestBody
from service.review.items import NAME_LENGTH, NOTE_LENGTH, ReviewItem
from service.review.live_precision import MIN_AUDITS_FOR_WARNING, LivePrecision

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH)]


class ReviewItemResponse(BaseModel):
    """A ticket in the review queue (text already redacted), with its claim and decision if any.

    For an audit that nobody has decided yet, the model's label, confidence and probabilities
    are null: the agent decides blind, and sees them in the response to the decision.
    """

    id: int = Field(description="the queue's id of the item")
    ticket_id: str = Field(description="the ticket id sent to /v1/predict, or one the queue generated")
    subject: str
    body: str
    language: str = Field(description="`sv`, `en`, `mixed` or `unknown`")
    audit: bool = Field(description="a blind audit of a ticket the model routed by itself, rather than one it routed to review")
    model_label: str | None = Field(description="the most probable label when the ticket was queued; null for an undecided audit")
    confidence: float | None = Field(description="the model's confidence in that label; null for an undecided audit")
    probabilities: dict[str, float] | None = Field(description="the model's probability per label; null for an undecided audit")
    model_version: str = Field(description="the model version that queued the ticket")
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None = Field(description="who holds the item now (until `claimed_until`)")
    claimed_until: datetime | None
    decided_label: str | None = Field(description="the agent's label, once decided")
    decided_by: str | None
    decided_at: datetime | None
    note: str | None = Field(description="the agent's note (redacted)")
    model_agreed: bool | None = Field(description="whether the decision equals the model's label; null until decided")

    @classmethod
    def of(cls, item: ReviewItem) -> ReviewItemResponse:
        """The response for a stored item; an undecided audit without the model's view."""
        response = cls.model_validate(item, from_attributes=True)
        if item.is_blind:
            response.model_label = response.confidence = response.probabilities = None
        return response


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


class LabelPrecisionResponse(BaseModel):
    """Live precision of one label: of the audited tickets the model routed there, the share the agents agreed with."""

    audits: int = Field(description="decided audits of tickets the model routed to this label, within the window")
    correct: int = Field(description="how many of them the agents gave this label too")
    precision: float | None = Field(description="correct / audits; null without audits")
    lower: float | None = Field(description="lower end of the 95% Wilson interval; null without audits")
    upper: float | None = Field(description="upper end of the 95% Wilson interval; null without audits")
    below_target: bool = Field(description=f"the interval lies below the target precision, with at least {MIN_AUDITS_FOR_WARNING} audits")


class LivePrecisionResponse(BaseModel):
    """Live precision of the model in service per label, from the agents' blind audits."""

    model_version: str = Field(description="the model in service; only its audits count")
    window_days: int = Field(description="decisions of the last this many days count (TRIAGE_AUDIT_WINDOW_DAYS)")
    target_precision: float | None = Field(description="the precision the model's thresholds were chosen for")
    audit_rate: float = Field(description="share of automatically routed tickets audited (TRIAGE_AUDIT_RATE)")
    pending_audits: int = Field(description="audits waiting for an agent's decision (of any model version)")
    per_label: dict[str, LabelPrecisionResponse] = Field(description="every label of the model in service")

    @classmethod
    def of(cls, live: LivePrecision, audit_rate: float) -> LivePrecisionResponse:
        """The response for the figures the store gave."""
        per_label = {label: LabelPrecisionResponse(audits=p.audits, correct=p.correct, precision=p.precision, lower=p.lower, upper=p.upper,
                                                   below_target=p.below(live.target)) for label, p in live.per_label.items()}
        return cls(model_version=live.model_version, window_days=live.window_days, target_precision=live.target, audit_rate=audit_rate,
                   pending_audits=live.pending_audits, per_label=per_label)


class ReviewSummaryResponse(BaseModel):
    """The queue's size, how often the agents agreed with the model, and its live precision."""

    pending: int = Field(description="items waiting for a decision")
    decided: int = Field(description="decisions recorded")
    per_label: dict[str, int] = Field(description="decisions per decided label")
    agreement: float | None = Field(description="share of decisions equal to the model's label; null before the first decision")
    per_label_agreement: dict[str, float] = Field(description="per decided label, the share the model had labelled the same")
    live_precision: LivePrecisionResponse = Field(description="live precision of the model in service per label, from the blind audits")
