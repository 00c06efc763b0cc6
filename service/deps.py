"""What endpoints depend on, built once in the lifespan and injected with `Annotated` dependencies.

The dependencies are `async def` so FastAPI calls them on the event loop instead of sending
each one to the threadpool; they only read attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Request

from model.predictor import TriageModel
from service.auth import KeyRing
from service.config import Settings
from service.metrics import Metrics
from service.model_holder import ModelHolder
from service.next_steps import NextSteps
from service.review import ReviewHook, SessionCodec
from service.throttle import FailureLimiter


@dataclass
class Services:
    """Everything the endpoints share, created at start-up."""

    settings: Settings
    keys: KeyRing
    metrics: Metrics
    next_steps: NextSteps
    holder: ModelHolder
    review: ReviewHook
    sessions: SessionCodec
    auth_failures: FailureLimiter  # wrong keys per client address, on the API and the review page's sign-in
    model_work: anyio.CapacityLimiter  # worker threads that may predict large requests at once


async def get_services(request: Request) -> Services:
    """The app's shared services."""
    services: Services = request.app.state.services
    return services


async def get_model(request: Request) -> TriageModel:
    """The model in service now; a request keeps this one object even if a new version is swapped in."""
    model: TriageModel = request.app.state.services.holder.current
    return model


ServicesDep = Annotated[Services, Depends(get_services)]
ModelDep = Annotated[TriageModel, Depends(get_model)]
