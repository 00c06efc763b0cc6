"""Request and response bodies of the API, named by role; every error uses `ErrorResponse`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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


class ErrorDetail(BaseModel):
    """What went wrong, as a stable machine-readable code and a message saying what to fix."""

    code: str = Field(description="stable error code, e.g. `invalid_request`, `missing_api_key`, `ticket_too_long`")
    message: str = Field(description="what went wrong and what to change")
    details: dict[str, Any] | None = Field(default=None, description="extra facts for some errors (e.g. readiness state)")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class PredictRequest(BaseModel):
    """One helpdesk ticket: an optional id, an optional subject and the body."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"id": "4711", "subject": "Ny skola i synken", "body": "Hej! Vi behöver lägga till Ekbackens skola i synken till Google."}]
    })

    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_not_blank)] | None = Field(
        default=None, description="your ticket id, echoed back; the review queue keeps one entry per id")
    subject: Annotated[str, AfterValidator(_unicode_text)] | None = Field(default=None, description="the ticket's subject line")
    body: Annotated[str, AfterValidator(_unicode_text)] = Field(description="the ticket's text (HTML, quoted replies and signatures are fine)")


class BatchRequest(BaseModel):
    """Several tickets to route in one call; each is checked on its own (see `PredictRequest`)."""

    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one in the endpoint, so a bad ticket fails alone, not the batch.
    tickets: list[Any] = Field(description="tickets, each shaped like a PredictRequest",
                               json_schema_extra={"items": {"$ref": "#/components/schemas/PredictRequest"}})


class ExplanationTerm(BaseModel):
    """A term of the ticket and how strongly it pushed the model towards a label."""

    term: str
    label: str
    weight: float


class CustomerMessage(BaseModel):
    """A ready-to-send reply to the customer, in the ticket's language."""

    language: str = Field(description="`sv` or `en`")
    text: str


class NextStep(BaseModel):
    """What to do with the ticket now (texts from service/next_steps.toml)."""

    action: str = Field(description="e.g. `delivery_task`, `support_queue`, `human_review`")
    queue: str
    steps: list[str]
    customer_message: CustomerMessage | None = None


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


class ReloadResponse(BaseModel):
    """The outcome of a reload: the version served before and after."""

    previous_version: str
    version: str
    changed: bool
    message: str


class HealthResponse(BaseModel):
    """The process is alive."""

    status: str


class ReadyResponse(BaseModel):
    """A verified model is loaded and review items have somewhere to go."""

    status: str
    model_version: str
    review_store: str = Field(description="`ok`, or `unavailable` while review items wait in the retry buffer")
    review_buffer: int = Field(description="review items waiting for the database")
    review_buffer_capacity: int
