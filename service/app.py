"""The FastAPI app (`create_app`), its lifespan, and `run` behind `triage serve`.

The app is assembled here from the shared parts and the features' routers: `predict` (the
prediction endpoints and `/v1/model`), `review` (its API and the agents' page), the probes and
the admin endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from importlib import metadata as importlib_metadata
from typing import Any

import anyio
import anyio.to_thread
import uvicorn
from fastapi import FastAPI

from model.data import DataError
from model.registry import ModelError
from service import admin, health
from service.config import ConfigError, Settings, load_settings, unknown_environment_settings
from service.connections import ensure_file_descriptors, guarded_protocol
from service.deps import Services
from service.errors import install_error_handlers
from service.logs import configure_logging
from service.metrics import Metrics
from service.middleware import BodyLimitMiddleware, LoopbackHostMiddleware, RequestContextMiddleware
from service.model_holder import ModelHolder
from service.next_steps import load_next_steps
from service.predict import model_info
from service.predict import routes as predict_routes
from service.review import api as review_api
from service.review import page as review_page
from service.review.buffer import RetryBuffer, default_buffer_file
from service.review.hook import ReviewHook
from service.review.queue import refresh_agreement
from service.review.retention import purge_forever
from service.review.session import SessionCodec
from service.review.store import ReviewStore
from service.review.web import install as install_review_page
from service.startup import model_to_serve, preflight
from service.throttle import FailureLimiter

log = logging.getLogger("triage.service")
EXIT_BAD_SETTINGS = 2
EXIT_SERVER_FAILED = 1
_DESCRIPTION = """Routes Swedish/English helpdesk tickets to **support**, **delivery** (a delivery task, not support)
or **review** (a person decides) and says what to do next. Send an API key as `Authorization: Bearer <key>`
or `X-API-Key: <key>`; roles: `predict`, `review`, `admin`. Every error has the body `{"error": {"code", "message"}}`.
Agents decide the tickets routed to review on the web page at [/review](/review)."""


def open_services(settings: Settings, metrics: Metrics) -> Services:
    """Load the next steps and the model, open the review store and migrate it (blocking I/O)."""
    next_steps = load_next_steps(settings.next_steps_file)
    holder = ModelHolder(settings, next_steps, metrics)
    store = ReviewStore(settings.database_url, settings.claim_ttl_seconds, timeout=settings.database_timeout)
    buffer = RetryBuffer(settings.review_buffer_file or default_buffer_file(settings.database_url), settings.review_buffer_bytes)
    review = ReviewHook(store, buffer, metrics, settings.review_retry_interval)
    review.start()
    if review.available:  # a database that was down a moment ago would only delay start-up again
        refresh_agreement(review.store, metrics)
    # Without a configured secret, sessions last as long as the process: agents sign in again after a restart.
    secret = settings.session_secret.get_secret_value().encode() if settings.session_secret else secrets.token_bytes(32)
    return Services(settings=settings, keys=settings.key_ring, metrics=metrics, next_steps=next_steps, holder=holder, review=review,
                    sessions=SessionCodec(secret), auth_failures=FailureLimiter(),
                    model_work=anyio.CapacityLimiter(os.cpu_count() or 1))  # the GIL aside, no more at once than cores


def _announce(services: Services) -> None:
    settings = services.settings
    model_obj = services.holder.current
    log.info("serving model", extra={"fields": {
        "version": model_obj.version, "directory": str(model_obj.directory), "thresholds": model_obj.thresholds,
        "watching": None if settings.model is not None or not settings.watch_interval else str(settings.registry),
    }})
    if services.keys.open:
        log.warning(f"no API keys configured: listening on loopback ({settings.host}) only, and every request gets every role")
    else:
        log.info("API keys configured", extra={"fields": {"keys": len(services.keys.entries)}})
    for name in unknown_environment_settings():
        log.warning(f"environment variable {name} names no setting (a typo?); it is ignored")


def create_app(settings: Settings) -> FastAPI:
    """The app; the lifespan loads the model and opens the review store once, at start-up."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await anyio.to_thread.run_sync(open_services, settings, metrics)
        app.state.services = services
        _announce(services)
        tasks = [asyncio.create_task(services.review.flush_forever(settings.review_retry_interval)),
                 asyncio.create_task(purge_forever(services.review.store, settings.retention_days))]
        if settings.model is None and settings.watch_interval > 0:
            tasks.append(asyncio.create_task(services.holder.watch(settings.watch_interval)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task
            services.review.close()

    app = FastAPI(title="ticket-triage", version=_package_version(), description=_DESCRIPTION, lifespan=lifespan)
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, timeout=settings.request_read_timeout)
    if settings.key_ring.open:
        app.add_middleware(LoopbackHostMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: it sees every response, 413s included
    for module in (predict_routes, model_info, review_api, admin, health, review_page):
        app.include_router(module.router)
    install_review_page(app)
    return app


def _package_version() -> str:
    try:
        return importlib_metadata.version("ticket-triage")
    except importlib_metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def run(overrides: dict[str, Any], train_if_missing: bool = False) -> int:
    """Validate the settings, find or train the model, and serve until stopped; 2 for bad settings."""
    try:
        settings = load_settings(overrides)
        configure_logging(settings.log_level)
        ensure_file_descriptors(settings.max_connections)
        model_dir = model_to_serve(settings, train_if_missing)
        preflight(settings, model_dir)
    except (ConfigError, ModelError, DataError, ValueError) as e:
        print(f"triage serve: error: {e}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                                           http=guarded_protocol(settings.max_connections, settings.request_read_timeout),
                                           log_config=None, access_log=False, lifespan="on", server_header=False))
    try:
        server.run()
    except SystemExit as e:  # uvicorn exits this way when it cannot start
        return int(e.code or EXIT_SERVER_FAILED)
    return 0 if server.started else EXIT_SERVER_FAILED
