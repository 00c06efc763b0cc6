"""Predictions: `POST /v1/predict` for one ticket and `POST /v1/predict/batch` for several."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.background import BackgroundTask

from model.decision import REVIEW
from model.language import detect_language
from model.predictor import TriageModel
from model.text import clean_text, has_words, ticket_text
from service.auth import require_role
from service.deps import ModelDep, Services, ServicesDep
from service.errors import ApiError, ErrorDetail, describe_validation_errors, error_responses
from service.predict.schemas import BatchItem, BatchRequest, BatchResponse, PredictRequest, PredictResponse
from service.review import NewReviewItem, audit_key, audit_ticket_id, picked_for_audit

router = APIRouter(prefix="/v1", tags=["predict"])
NEEDS_PREDICT = [Depends(require_role("predict"))]


def clean_ticket(text: str, max_chars: int) -> str | ErrorDetail:
    """The ticket's cleaned text (cleaned once, here, for both the check and the model), or why
    it cannot be classified."""
    if len(text) > max_chars:
        return ErrorDetail(code="ticket_too_long",
                           message=f"the ticket is {len(text)} characters long; the limit is {max_chars}: send the first part of the ticket")
    cleaned = clean_text(text)
    if not has_words(cleaned):
        return ErrorDetail(code="empty_ticket",
                           message="the ticket has no text left to classify once quotes, signatures and markup are removed; send its subject and body")
    return cleaned


def classify(model: TriageModel, services: Services, tickets: Sequence[PredictRequest], texts: Sequence[str],
             cleaned: Sequence[str]) -> list[PredictResponse]:
    """Predict a route for each ticket in one model call (CPU only: no I/O)."""
    top_k = services.settings.explain_terms
    predictions = model.predict_cleaned(cleaned, explain=top_k > 0, top_k=top_k)
    services.metrics.observe_routes(((p.route, p.label) for p in predictions), REVIEW)
    responses = []
    for ticket, text, p in zip(tickets, texts, predictions):
        language = detect_language(text)
        # The explanation's {"term", "label", "weight"} dicts become ExplanationTerms in pydantic's
        # own validation, without a Python-level model per term.
        responses.append(PredictResponse.model_validate({
            "id": ticket.id, "route": p.route, "label": p.label, "confidence": p.confidence, "probabilities": p.probabilities,
            "thresholds": model.thresholds, "language": language, "explanation": p.explanation,
            "model_version": model.version, "next_step": services.next_steps.for_route(p.route, language),
        }))
    return responses


def queue_reviews(model: TriageModel, services: Services, tickets: Sequence[PredictRequest], responses: Sequence[PredictResponse]) -> None:
    """Hand every ticket routed to review to the review queue (database I/O), noting the outcome."""
    for ticket, response in zip(tickets, responses):
        if response.route != REVIEW:
            continue
        handoff = services.review.submit(_queue_item(model, ticket, response, ticket.id, audit=False))
        response.review_queued, response.review_item_id, response.warning = handoff.queued, handoff.item_id, handoff.warning


Picked = tuple[PredictRequest, PredictResponse, str]  # an audited ticket, its routing and its audit key


def picked_audits(services: Services, tickets: Sequence[PredictRequest], responses: Sequence[PredictResponse]) -> list[Picked]:
    """The automatically routed tickets picked for a blind audit (`TRIAGE_AUDIT_RATE`), with their audit keys."""
    rate = services.settings.audit_rate
    if rate <= 0.0:
        return []
    keyed = ((t, r, audit_key(t.id, t.subject, t.body)) for t, r in zip(tickets, responses) if r.route != REVIEW)
    return [(t, r, key) for t, r, key in keyed if picked_for_audit(key, rate)]


def queue_audits(model: TriageModel, services: Services, picked: Sequence[Picked]) -> None:
    """Hand the picked tickets to the review queue as audits (database I/O).

    This runs after the response is sent: the answer says nothing about audits (the ticket was
    routed, and auditing it changes nothing for the caller), so the caller never waits for it.
    """
    for ticket, response, key in picked:
        services.review.submit(_queue_item(model, ticket, response, audit_ticket_id(ticket.id, key), audit=True))


def _queue_item(model: TriageModel, ticket: PredictRequest, response: PredictResponse, ticket_id: str | None, audit: bool) -> NewReviewItem:
    return NewReviewItem(
        ticket_id=ticket_id, subject=ticket.subject or "", body=ticket.body, model_label=response.label, confidence=response.confidence,
        probabilities=response.probabilities, model_version=model.version, language=response.language, audit=audit,
    )


async def route_tickets(model: TriageModel, services: Services, tickets: Sequence[PredictRequest], texts: Sequence[str],
                        cleaned: Sequence[str]) -> tuple[list[PredictResponse], list[Picked]]:
    """Route tickets and queue the uncertain ones for review; return the routings and the tickets
    picked for an audit among the others, for `queue_audits` once the response is sent.

    The model runs on the event loop: a prediction is a fraction of a millisecond of CPU work
    that a thread hop would only add to (the GIL allows no parallelism between them anyway);
    only the review queue's database writes go to a worker thread.
    """
    responses = classify(model, services, tickets, texts, cleaned)
    if any(r.route == REVIEW for r in responses):
        await run_in_threadpool(queue_reviews, model, services, tickets, responses)
    return responses, picked_audits(services, tickets, responses)


def json_response(body: PredictResponse, background: BackgroundTask | None = None) -> Response:
    """The response serialised once, here. FastAPI sends a returned `Response` as it is, where a
    returned model would be validated against `response_model` again before being serialised
    (`response_model` still documents it in the OpenAPI schema); the bytes are the same."""
    return Response(PredictResponse.__pydantic_serializer__.to_json(body), media_type="application/json", background=background)


# The hot endpoint takes the request itself rather than the `ModelDep`/`ServicesDep`
# dependencies: each dependency FastAPI solves costs more than the attribute reads it does.
@router.post("/predict", dependencies=NEEDS_PREDICT, response_model=PredictResponse, responses=error_responses(400, 401, 403, 413, 415, 422))
async def predict(ticket: PredictRequest, request: Request) -> Response:
    """Route one ticket to support, a delivery task or human review, with the evidence and the next step."""
    services: Services = request.app.state.services
    model: TriageModel = services.holder.current  # read once: this request keeps this model even if a new one is swapped in
    text = ticket_text(ticket.subject, ticket.body)
    cleaned = clean_ticket(text, services.settings.max_ticket_chars)
    if isinstance(cleaned, ErrorDetail):
        raise ApiError(422, cleaned.code, cleaned.message)
    responses, picked = await route_tickets(model, services, [ticket], [text], [cleaned])
    # A plain function as a background task runs in a worker thread, after the response is sent.
    return json_response(responses[0], BackgroundTask(queue_audits, model, services, picked) if picked else None)


@router.post("/predict/batch", dependencies=NEEDS_PREDICT, responses=error_responses(400, 401, 403, 413, 415, 422))
async def predict_batch(batch: BatchRequest, model: ModelDep, services: ServicesDep, background: BackgroundTasks) -> BatchResponse:
    """Route up to `TRIAGE_MAX_BATCH` tickets (default 100) in order; a bad ticket gets its own error entry."""
    limit = services.settings.max_batch
    if len(batch.tickets) > limit:
        raise ApiError(422, "batch_too_large", f"the batch has {len(batch.tickets)} tickets; the limit is {limit}: split it into smaller batches")
    results: list[BatchItem] = []
    good: list[tuple[BatchItem, PredictRequest, str, str]] = []
    for index, raw in enumerate(batch.tickets):
        given_id = raw.get("id") if isinstance(raw, dict) else None
        item = BatchItem(index=index, id=given_id if isinstance(given_id, str) else None)
        results.append(item)
        if not isinstance(raw, dict):
            item.error = ErrorDetail(code="invalid_ticket", message='a ticket must be a JSON object such as {"subject": "...", "body": "..."}')
            continue
        try:
            ticket = PredictRequest.model_validate(raw)
        except ValidationError as e:
            item.error = ErrorDetail(code="invalid_ticket", message=describe_validation_errors(e.errors()))
            continue
        text = ticket_text(ticket.subject, ticket.body)
        cleaned = clean_ticket(text, services.settings.max_ticket_chars)
        if isinstance(cleaned, ErrorDetail):
            item.error = cleaned
        else:
            good.append((item, ticket, text, cleaned))
    if good:
        responses, picked = await route_tickets(model, services, [g[1] for g in good], [g[2] for g in good], [g[3] for g in good])
        for (item, *_), response in zip(good, responses):
            item.result = response
        if picked:
            background.add_task(queue_audits, model, services, picked)
    return BatchResponse(model_version=model.version, results=results)
