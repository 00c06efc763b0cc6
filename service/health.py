"""Probes and metrics: `GET /healthz`, `GET /readyz`, `GET /metrics` (no API key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from service.deps import Services
from service.errors import ApiError, error_responses


class HealthResponse(BaseModel):
    """The process is alive."""

    status: str


class ReadyResponse(BaseModel):
    """A verified model is loaded and review items have somewhere to go."""

    status: str
    model_version: str
    review_store: str = Field(description="`ok`, or `unavailable` while review items wait in the retry buffer "
                                          "(the database was down or slower than TRIAGE_DATABASE_TIMEOUT at the last write)")
    review_buffer: int = Field(description="review items waiting for the database")
    review_buffer_bytes: int = Field(description="their size")
    review_buffer_capacity_bytes: int = Field(description="what the retry buffer may hold (TRIAGE_REVIEW_BUFFER_BYTES)")


router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> HealthResponse:
    """Answer as long as the process is alive."""
    return HealthResponse(status="ok")


@router.get("/readyz", responses=error_responses(503))
async def readyz(request: Request) -> ReadyResponse:
    """Say whether a verified model is loaded and review items have somewhere to go (503 and the reason if not)."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise ApiError(503, "not_ready", "no model is loaded yet: the service is starting or failed to start")
    review = services.review
    details: dict[str, Any] = {"model_version": services.holder.current.version, "review_store": "ok" if review.available else "unavailable",
                               "review_buffer": review.buffered(), "review_buffer_bytes": review.buffer.size_bytes,
                               "review_buffer_capacity_bytes": review.buffer.capacity_bytes}
    if not review.available and review.refusing:
        raise ApiError(503, "not_ready", "the review database is unavailable and the review retry buffer cannot take more; "
                       "tickets routed to review are answered 503 until the database is back", details=details)
    return ReadyResponse(status="ready", **details)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus metrics."}})
async def metrics(request: Request) -> Response:
    """Expose the service's Prometheus metrics."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
