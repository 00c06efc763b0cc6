"""The review queue's API under `/v1/review` (role `review`): list, read, claim and decide items; export decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from service.auth import require_role
from service.deps import ModelDep, ServicesDep
from service.errors import ErrorResponse
from service.review.queue import api_errors, export_csv, refresh_agreement
from service.review.schemas import (
    ClaimRequest,
    DecisionRequest,
    LivePrecisionResponse,
    ReviewItemResponse,
    ReviewQueueResponse,
    ReviewSummaryResponse,
)
from service.review.store import MAX_PAGE_SIZE

router = APIRouter(prefix="/v1/review", tags=["review"], dependencies=[Depends(require_role("review"))])
ItemId = Annotated[int, Path(ge=1, description="the queue's id of the item")]
_ERRORS = {
    401: "No API key, or an unknown one.",
    403: "The API key lacks the `review` role.",
    404: "No review item has this id.",
    409: "Another agent already decided the item (`already_decided`) or holds it (`claimed_by_another`); nothing was recorded.",
    422: "A field or parameter is invalid, e.g. a label outside the model's labels.",
    503: "The review database is unavailable; nothing was recorded, try again shortly.",
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse, "description": _ERRORS[status]} for status in (401, 403, *statuses)}


@router.get("/items", responses=_responses(422, 503))
def list_pending(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, description="items to skip")] = 0,
    reviewer: Annotated[str | None, Query(max_length=100, description="also list the items this agent holds")] = None,
) -> ReviewQueueResponse:
    """List the undecided items nobody else holds: most uncertain first, then oldest; audits last, without the model's view."""
    store = services.review.store
    with api_errors("read"):
        items = store.list_pending(limit=limit, offset=offset, reviewer=reviewer or None)
        total = store.count_pending(reviewer=reviewer or None)
    return ReviewQueueResponse(total=total, limit=limit, offset=offset, items=[ReviewItemResponse.of(item) for item in items])


@router.get("/items/{item_id}", responses=_responses(404, 422, 503))
def get_item(item_id: ItemId, services: ServicesDep) -> ReviewItemResponse:
    """Read one item, pending or decided (an undecided audit without the model's view)."""
    with api_errors("read"):
        return ReviewItemResponse.of(services.review.store.get(item_id))


@router.post("/items/{item_id}/claim", responses=_responses(404, 409, 422, 503))
def claim_item(item_id: ItemId, claim: ClaimRequest, services: ServicesDep) -> ReviewItemResponse:
    """Hold an item for one agent for `TRIAGE_CLAIM_TTL_SECONDS` (claiming again extends it); then it returns to the queue."""
    with api_errors("claimed"):
        return ReviewItemResponse.of(services.review.store.claim(item_id, claim.reviewer))


@router.post("/items/{item_id}/decision", responses=_responses(404, 409, 422, 503))
def decide_item(item_id: ItemId, decision: DecisionRequest, model: ModelDep, services: ServicesDep) -> ReviewItemResponse:
    """Record an agent's label for an item; a 200 means it is stored durably, and only the first decision counts.

    The response shows the model's view, for an audit too, and whether the model agreed."""
    store = services.review.store
    with api_errors("recorded"):
        item = store.decide(item_id, decision.label, decision.reviewer, note=decision.note or None, allowed_labels=model.labels)
    refresh_agreement(store, services.metrics)
    if item.audit:
        services.live_precision.refresh()
    return ReviewItemResponse.of(item)


@router.get("/summary", responses=_responses(503))
def summary(services: ServicesDep) -> ReviewSummaryResponse:
    """Count the pending items, report how often the agents agreed with the model, and its live precision from blind audits."""
    store = services.review.store
    with api_errors("read"):
        pending = store.count_pending()
        agreement = store.agreement()
        live = services.live_precision.read()
    services.metrics.set_review_agreement(agreement["agreement"], agreement["per_label"], agreement["per_label_agreement"])
    return ReviewSummaryResponse(pending=pending, decided=agreement["count"], per_label=agreement["per_label"],
                                 agreement=agreement["agreement"], per_label_agreement=agreement["per_label_agreement"],
                                 live_precision=LivePrecisionResponse.of(live, services.settings.audit_rate))


_EXPORT_HEADERS = {
    "X-Review-Count": {"description": "decided items in the file", "schema": {"type": "integer"}},
    "X-Review-Agreement": {"description": "share of them equal to the model's label, or `n/a`", "schema": {"type": "string"}},
    "X-Review-Per-Label": {"description": "decisions per label, e.g. `delivery=3,support=5`", "schema": {"type": "string"}},
}


@router.get("/export", response_class=Response, responses={
    200: {"content": {"text/csv": {}}, "headers": _EXPORT_HEADERS,
          "description": "Decided items as a labelled ticket CSV (id, subject, body, language, label, difficulty, note, audit) for `triage train --data`."},
    **_responses(422, 503),
})
def export(
    services: ServicesDep,
    since: Annotated[datetime | None, Query(description="only decisions made at or after this time (ISO 8601; no zone means UTC)")] = None,
) -> Response:
    """Download the decided items as a training file in the CLI's ticket format, with the agreement in the headers."""
    with api_errors("exported"):
        text, result = export_csv(services.review.store, since)
    if since is None:  # the whole history: the same figures as /metrics should show
        services.metrics.set_review_agreement(result.agreement, result.per_label, result.per_label_agreement)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="reviews-{stamp}.csv"',
        "X-Review-Count": str(result.count),
        "X-Review-Agreement": "n/a" if result.agreement is None else f"{result.agreement:.4f}",
        "X-Review-Per-Label": ",".join(f"{label}={n}" for label, n in result.per_label.items()),
        "Cache-Control": "no-store",
    })
