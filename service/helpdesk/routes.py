"""The helpdesk endpoints: the webhooks Freshdesk and Zendesk call, and the admin view of dead letters.

`POST /v1/helpdesk/freshdesk/events` takes a key of the role `webhook` in any form
`service.auth` accepts: Basic auth as a Freshdesk rule sends it (the key as password, or as user
name with the password `X`), `Authorization: Bearer` or `X-API-Key`. `POST /v1/helpdesk/zendesk/events` is authenticated by Zendesk's signature instead.
Both only queue a job (202) and return at once; the worker does the rest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from service.auth import require_role
from service.db.errors import StoreError, StoreUnavailable
from service.errors import ApiError, ErrorResponse
from service.helpdesk.jobs import Job, JobNotFound, JobStore
from service.helpdesk.runtime import Helpdesk
from service.helpdesk.zendesk import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_problem

router = APIRouter(tags=["helpdesk"])
MAX_TICKET_ID = 10**15  # helpdesk ticket ids are positive integers well below this
_TICKET_ID_PLACES = "ticket_id, freshdesk_webhook.ticket_id, ticket.id or (Zendesk events) detail.id"
_RETRY_SECONDS = "30"


class EventAccepted(BaseModel):
    """What became of an event: a new job, one already there for the ticket (a repeat), or nothing (mode `off`)."""

    status: str = Field(description="`queued`, `duplicate` or `ignored`")
    job_id: int | None = None
    job_state: str | None = Field(default=None, description="for a duplicate: the state of the job already there")


class DeadLetter(BaseModel):
    """A job given up on: which ticket, what it was doing, and the helpdesk's error."""

    id: int
    helpdesk: str
    kind: str
    ticket_id: str
    attempts: int
    last_error: str | None
    updated_at: datetime
    steps_done: list[str]


class DeadLetters(BaseModel):
    """The dead letters, most recent first."""

    items: list[DeadLetter]


class Retried(BaseModel):
    """The jobs queued again."""

    job_ids: list[int]


# Documents the body for the OpenAPI page; the endpoints read it themselves (Zendesk's signature covers the raw bytes).
_EVENT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "any JSON object naming the ticket in freshdesk_webhook.ticket_id, ticket_id, ticket.id or detail.id",
    "example": {"freshdesk_webhook": {"ticket_id": 4711}}}}}}}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "No or a wrong key (Freshdesk), or a missing, wrong or stale signature (Zendesk).", 403: "The key lacks the role needed.",
            404: "This helpdesk is not configured, or no such job.", 409: "The job is not a dead letter.",
            422: "The body names no ticket id, or a parameter is out of range.", 503: "The job table is unavailable; the helpdesk retries later."}
    return {s: {"model": ErrorResponse, "description": text[s]} for s in statuses}


def _helpdesk(request: Request, name: str) -> Helpdesk:
    feature: Helpdesk | None = getattr(request.app.state.services, "helpdesk", None)
    if feature is None or name not in feature.connectors:
        raise ApiError(404, "helpdesk_not_configured", f"{name} is not configured on this service; see docs/HELPDESK.md")
    return feature


def ticket_id_of(payload: Any) -> str:
    """The ticket id in a webhook body (Simple or Advanced Freshdesk payload, or a Zendesk trigger or event body)."""
    for path in (("freshdesk_webhook", "ticket_id"), ("ticket_id",), ("ticket", "id"), ("detail", "id")):
        value = payload
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        text = str(value).strip().removeprefix("#") if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if text.isascii() and text.isdigit() and 0 < int(text) < MAX_TICKET_ID:
            return str(int(text))
        raise ApiError(422, "invalid_ticket_id", f"{'.'.join(path)} must be a positive whole number; check the placeholder in the webhook body")
    raise ApiError(422, "missing_ticket_id", f"the body names no ticket id: send JSON with one of {_TICKET_ID_PLACES}, "
                   'e.g. {"ticket_id": "{{ticket.id}}"}')


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the webhook body is not JSON; choose the JSON encoding in the webhook's settings") from None


async def _accept(feature: Helpdesk, name: str, payload: Any) -> JSONResponse:
    ticket_id = ticket_id_of(payload)
    if feature.settings.mode == "off":
        feature.metrics.events.labels(name, "ignored").inc()
        return JSONResponse(EventAccepted(status="ignored").model_dump(), status_code=202)
    try:
        job, created = await run_in_threadpool(feature.store.enqueue, name, "ticket", ticket_id)
    except StoreUnavailable as e:
        raise ApiError(503, "job_store_unavailable", f"{e}; the event was not stored, the helpdesk will send it again",
                       headers={"Retry-After": _RETRY_SECONDS}) from None
    except StoreError as e:
        raise ApiError(503, "job_store_error", f"{e}; the event was not stored", headers={"Retry-After": _RETRY_SECONDS}) from None
    feature.metrics.events.labels(name, "queued" if created else "duplicate").inc()
    if created:
        feature.worker.wake.set()
    body = EventAccepted(status="queued" if created else "duplicate", job_id=job.id, job_state=None if created else job.state)
    return JSONResponse(body.model_dump(), status_code=202)


@router.post("/v1/helpdesk/freshdesk/events", status_code=202, dependencies=[Depends(require_role("webhook"))], response_model=EventAccepted,
             responses=_responses(401, 403, 404, 422, 503), openapi_extra=_EVENT_BODY)
async def freshdesk_event(request: Request) -> JSONResponse:
    """Accept a Freshdesk automation rule's webhook (Simple or Advanced JSON) and queue the ticket; 202 at once."""
    feature = _helpdesk(request, "freshdesk")
    return await _accept(feature, "freshdesk", _json(await request.body()))


@router.post("/v1/helpdesk/zendesk/events", status_code=202, response_model=EventAccepted, responses=_responses(401, 404, 422, 503),
             openapi_extra=_EVENT_BODY)
async def zendesk_event(request: Request) -> JSONResponse:
    """Accept a Zendesk webhook, signed with the webhook's signing secret, and queue the ticket; 202 at once."""
    feature = _helpdesk(request, "zendesk")
    body = await request.body()
    zendesk = feature.settings.zendesk
    assert zendesk is not None and zendesk.signing_secret is not None  # checked with the settings
    problem = signature_problem(zendesk.signing_secret.get_secret_value(), request.headers.get(SIGNATURE_HEADER),
                                request.headers.get(TIMESTAMP_HEADER), body, datetime.now(UTC), feature.settings.signature_max_age_seconds)
    if problem is not None:
        raise ApiError(401, "invalid_signature", problem)
    return await _accept(feature, "zendesk", _json(body))


# --- admin: dead letters ---------------------------------------------------------------------
_admin = [Depends(require_role("admin"))]


def _store(request: Request) -> JobStore:
    feature: Helpdesk | None = getattr(request.app.state.services, "helpdesk", None)
    if feature is None:
        raise ApiError(404, "helpdesk_not_configured", "no helpdesk is configured on this service; see docs/HELPDESK.md")
    return feature.store


def _dead_letter(job: Job) -> DeadLetter:
    return DeadLetter(id=job.id, helpdesk=job.helpdesk, kind=job.kind, ticket_id=job.ticket_id, attempts=job.attempts,
                      last_error=job.last_error, updated_at=job.updated_at, steps_done=list(job.progress.get("done", [])))


def _store_errors(e: StoreError) -> ApiError:
    return ApiError(503, "job_store_unavailable", f"{e}; try again shortly")


@router.get("/v1/admin/helpdesk/dead-letters", dependencies=_admin, responses=_responses(401, 403, 404, 422, 503))
def dead_letters(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> DeadLetters:
    """List the helpdesk jobs given up on, most recent first, with the helpdesk's error code."""
    store = _store(request)
    try:
        return DeadLetters(items=[_dead_letter(job) for job in store.dead_letters(limit)])
    except StoreError as e:
        raise _store_errors(e) from None


@router.post("/v1/admin/helpdesk/dead-letters/{job_id}/retry", dependencies=_admin, responses=_responses(401, 403, 404, 409, 422, 503))
def retry_dead_letter(request: Request, job_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Retried:
    """Queue one dead letter again now, with a fresh count of attempts; it continues where it stopped."""
    store = _store(request)
    try:
        retried = store.retry([job_id])
        if not retried:
            job = store.get(job_id)
            raise ApiError(409, "not_a_dead_letter", f"helpdesk job {job_id} is {job.state}, not dead; only dead letters are retried")
    except JobNotFound as e:
        raise ApiError(404, "job_not_found", f"{e}; list them with GET /v1/admin/helpdesk/dead-letters") from None
    except StoreError as e:
        raise _store_errors(e) from None
    _wake(request)
    return Retried(job_ids=retried)


@router.post("/v1/admin/helpdesk/dead-letters/retry", dependencies=_admin, responses=_responses(401, 403, 404, 503))
def retry_all_dead_letters(request: Request) -> Retried:
    """Queue every dead letter again now (e.g. once a wrong type name is fixed in the settings)."""
    store = _store(request)
    try:
        retried = store.retry()
    except StoreError as e:
        raise _store_errors(e) from None
    _wake(request)
    return Retried(job_ids=retried)


def _wake(request: Request) -> None:
    feature: Helpdesk = request.app.state.services.helpdesk
    feature.worker.wake.set()
