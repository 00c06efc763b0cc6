"""Predictions: `POST /v1/predict` for one ticket and `POST /v1/predict/batch` for several."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from model.decision import REVIEW
from model.language import detect_language
from model.predictor import TriageModel
from model.text import clean_text, has_words, ticket_text
from service.auth import require_role
from service.deps import ModelDep, Services, ServicesDep
from service.errors import ApiError, ErrorDetail, describe_validation_errors, error_responses
from service.predict.schemas import BatchItem, BatchRequest, BatchResponse, PredictRequest, PredictResponse
from service.review import NewReviewItem, ReviewQueueFull

router = APIRouter(prefix="/v1", tags=["predict"])
NEEDS_PREDICT = [Depends(require_role("predict"))]
LOOP_WORK_CHARACTERS = 5_000  # about 5 ms of cleaning and scoring; a request with more text is predicted in a worker thread


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


def clean_and_classify(model: TriageModel, services: Services, tickets: Sequence[PredictRequest]) -> list[PredictResponse | ErrorDetail]:
    """Each ticket's prediction, or why it cannot be classified (CPU only: no I/O)."""
    texts = [ticket_text(ticket.subject, ticket.body) for ticket in tickets]
    cleaned = [clean_ticket(text, services.settings.max_ticket_chars) for text in texts]
    good = [i for i, c in enumerate(cleaned) if isinstance(c, str)]
    predicted = iter(classify(model, services, [tickets[i] for i in good], [texts[i] for i in good], [str(cleaned[i]) for i in good])
                     if good else [])
    return [c if isinstance(c, ErrorDetail) else next(predicted) for c in cleaned]


async def predict_tickets(model: TriageModel, services: Services, tickets: Sequence[PredictRequest]) -> list[PredictResponse | ErrorDetail]:
    """`clean_and_classify`, on the event loop for small requests and in a worker thread for large ones.

    A small request is a fraction of a millisecond of CPU work that a thread hop would only add
    to. A large one (98 tickets of 20,000 characters take seconds) would keep the event loop,
    and so every other request, health checks included, waiting; in a thread it gives the loop
    the interpreter every few milliseconds, and `services.model_work` lets only as many large
    requests run at once as there are cores.
    """
    characters = sum(len(t.body) + len(t.subject or "") for t in tickets)
    if characters <= LOOP_WORK_CHARACTERS:
        return clean_and_classify(model, services, tickets)
    return await anyio.to_thread.run_sync(clean_and_classify, model, services, tickets, limiter=services.model_work)


def queue_reviews(model: TriageModel, services: Services, tickets: Sequence[PredictRequest],
                  responses: Sequence[PredictResponse]) -> ReviewQueueFull | None:
    """Hand every ticket routed to review to the review queue (database I/O), noting the outcome on
    its response; the refusal, if the queue could not take one (that response is left unmarked)."""
    for ticket, response in zip(tickets, responses):
        if response.route != REVIEW:
            continue
        try:
            handoff = services.review.submit(NewReviewItem(
                ticket_id=ticket.id, subject=ticket.subject or "", body=ticket.body, model_label=response.label,
                confidence=response.confidence, probabilities=response.probabilities, model_version=model.version, language=response.language,
            ))
        except ReviewQueueFull as refusal:
            response.review_queued = None  # marks it refused for the caller; never sent as such
            return refusal
        response.review_queued, response.review_item_id, response.warning = handoff.queued, handoff.item_id, handoff.warning
    return None


async def hand_over_reviews(model: TriageModel, services: Services, tickets: Sequence[PredictRequest],
                            responses: Sequence[PredictResponse]) -> ReviewQueueFull | None:
    """`queue_reviews` in the review hook's own worker threads, if any ticket was routed to review."""
    if not any(r.route == REVIEW for r in responses):
        return None
    return await anyio.to_thread.run_sync(queue_reviews, model, services, tickets, responses, limiter=services.review.limiter)


def queue_full_error(refusal: ReviewQueueFull) -> ErrorDetail:
    """What a ticket routed to review gets when the queue cannot take it."""
    return ErrorDetail(code="review_queue_full", message=(
        "the ticket was routed to review, but the review queue's database is unavailable and its retry buffer is full: "
        f"it was NOT queued; send it again in {refusal.retry_after} seconds"))


def json_response(body: PredictResponse) -> Response:
    """The response serialised once, here. FastAPI sends a returned `Response` as it is, where a
    returned model would be validated against `response_model` again before being serialised
    (`response_model` still documents it in the OpenAPI schema); the bytes are the same."""
    return Response(PredictResponse.__pydantic_serializer__.to_json(body), media_type="application/json")


# The hot endpoint takes the request itself rather than the `ModelDep`/`ServicesDep`
# dependencies: each dependency FastAPI solves costs more than the attribute reads it does.
@router.post("/predict", dependencies=NEEDS_PREDICT, response_model=PredictResponse, responses=error_responses(400, 401, 403, 413, 415, 422, 503))
async def predict(ticket: PredictRequest, request: Request) -> Response:
    """Route one ticket to support, a delivery task or human review, with the evidence and the next step."""
    services: Services = request.app.state.services
    model: TriageModel = services.holder.current  # read once: this request keeps this model even if a new one is swapped in
    outcome = (await predict_tickets(model, services, [ticket]))[0]
    if isinstance(outcome, ErrorDetail):
        raise ApiError(422, outcome.code, outcome.message)
    refusal = await hand_over_reviews(model, services, [ticket], [outcome])
    if refusal is not None:
        error = queue_full_error(refusal)
        raise ApiError(503, error.code, error.message, headers={"Retry-After": str(refusal.retry_after)})
    return json_response(outcome)


@router.post("/predict/batch", dependencies=NEEDS_PREDICT, responses=error_responses(400, 401, 403, 413, 415, 422))
async def predict_batch(batch: BatchRequest, model: ModelDep, services: ServicesDep, response: Response) -> BatchResponse:
    """Route up to `TRIAGE_MAX_BATCH` tickets (default 100) in order; a bad ticket gets its own error entry.

    A ticket routed to review that the review queue cannot take (its database down and its retry
    buffer full) gets the error `review_queue_full`, and the response a `Retry-After` header.
    """
    limit = services.settings.max_batch
    if len(batch.tickets) > limit:
        raise ApiError(422, "batch_too_large", f"the batch has {len(batch.tickets)} tickets; the limit is {limit}: split it into smaller batches")
    results: list[BatchItem] = []
    valid: list[tuple[BatchItem, PredictRequest]] = []
    for index, raw in enumerate(batch.tickets):
        given_id = raw.get("id") if isinstance(raw, dict) else None
        item = BatchItem(index=index, id=given_id if isinstance(given_id, str) else None)
        results.append(item)
        if not isinstance(raw, dict):
            item.error = ErrorDetail(code="invalid_ticket", message='a ticket must be a JSON object such as {"subject": "...", "body": "..."}')
            continue
        try:
            valid.append((item, PredictRequest.model_validate(raw)))
        except ValidationError as e:
            item.error = ErrorDetail(code="invalid_ticket", message=describe_validation_errors(e.errors()))
    outcomes = await predict_tickets(model, services, [ticket for _, ticket in valid])
    predicted: list[tuple[BatchItem, PredictRequest, PredictResponse]] = []
    for (item, ticket), outcome in zip(valid, outcomes):
        if isinstance(outcome, ErrorDetail):
            item.error = outcome
        else:
            item.result = outcome
            predicted.append((item, ticket, outcome))
    refusal = await hand_over_reviews(model, services, [p[1] for p in predicted], [p[2] for p in predicted])
    if refusal is not None:
        for item, _, outcome in predicted:
            if outcome.route == REVIEW and outcome.review_queued is None:  # not handed over: the queue could not take it
                item.result, item.error = None, queue_full_error(refusal)
        response.headers["Retry-After"] = str(refusal.retry_after)
    return BatchResponse(model_version=model.version, results=results)
