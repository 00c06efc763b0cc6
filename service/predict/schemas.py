"""Request and response bodies of the prediction endpoints and `/v1/model`, named by role.

Every error uses `service.errors.ErrorResponse`; `next_step` is a `service.next_steps.NextStep`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service.bodies import RequestBody
from service.errors import ErrorDetail
from service.next_steps import NextStep

MAX_ID_LENGTH = 200  # a helpdesk ticket id or reference, as the review queue stores it


def _not_blank(value: str) -> str:
    # pydantic's strip leaves the ASCII separators \x1c-\x1f that str.strip() removes; the review
    # queue strips ids with str.strip(), so an id of only those would reach it empty.
    if not value.strip():
        raise ValueError("the id must hold more than spaces and control characters")
    return value.strip()


def _unicode_text(value: str) -> str:
    # JSON lets "\ud800" through, but half a surrogate pair is no character: the database could not store it.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"holds an unpaired surrogate escape ({value[e.start]!r} at character {e.start}), which is not text; send valid Unicode") from None
    return value


class PredictRequest(RequestBody):
    """One helpdesk ticket: an optional id, an optional subject and the body."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"id": "4711", "subject": "Ny skola i synken", "body": "Hej! Vi behöver lägga till Ekbackens skola i synken till Google."}]
    })

    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_not_blank)] | None = Field(
        default=None, description="your ticket id, echoed back; the review queue keeps one entry per id")
    subject: Annotated[str, AfterValidator(_unicode_text)] | None = Field(default=None, description="the ticket's subject line")
    body: Annotated[str, AfterValidator(_unicode_text)] = Field(description="the ticket's text (HTML, quoted replies and signatures are fine)")


class BatchRequest(RequestBody):
    """Several tickets to route in one call; each is checked on its own (see `PredictRequest`)."""

    # Items are validated one by one in the endpoint, so a bad ticket fails alone, not the batch.
    tickets: list[Any] = Field(description="tickets, each shaped like a PredictRequest",
                               json_schema_extra={"items": {"$ref": "#/components/schemas/PredictRequest"}})


class ExplanationTerm(BaseModel):
    """A term of the ticket and how strongly it pushed the model towards a label."""

    term: str
    label: str
    weight: float


class PredictResponse(BaseModel):
    """The route of one ticket, with the evidence behind it and what to do next."""

    id: str | None
    route: str = Field(description="a label when its confidence clears the label's threshold, else `review`")
    label: str = Field(description="the most probable label")
    confidence: float
    probabilities: dict[str, float]
    thresholds: dict[str, float] = Field(description="per label, the confidence needed to route there automatically")
    language: str = Field(description="`sv`, `en`, `mixed` or `unknown`")
    explanation: list[ExplanationTerm]
    model_version: str
    next_step: NextStep
    review_queued: bool | None = Field(default=None, description="for route `review`: whether the ticket is in the review queue now")
    review_item_id: int | None = Field(default=None, description="for route `review`: the review queue's id of the item, once queued")
    warning: str | None = Field(default=None, description="set when something needs attention, e.g. the review queue was unavailable")


class BatchItem(BaseModel):
    """The outcome for one ticket of a batch: a `result` or an `error`, never both."""

    index: int = Field(description="position of the ticket in the request")
    id: str | None = None
    result: PredictResponse | None = None
    error: ErrorDetail | None = None


class BatchResponse(BaseModel):
    """One item per ticket of the request, in the same order."""

    model_version: str
    results: list[BatchItem]


class ModelInfo(BaseModel):
    """The model in service and the thresholds in force."""

    version: str
    created: str
    labels: list[str]
    thresholds: dict[str, float]
    target_precision: float | None = Field(description="the precision auto-routed tickets were tuned to reach")
    threshold_overrides: dict[str, float] = Field(description="thresholds set by the service's settings instead of the model")
    metrics: dict[str, Any] = Field(description="cross-validated metrics recorded when the model was trained")
    data: dict[str, Any] = Field(description="summary of the training data")
