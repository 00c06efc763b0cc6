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
from model.registry import ModelError, verify_model
from service import admin, health
from service.config import ConfigError, Settings, load_settings, unknown_environment_settings
from service.connections import ensure_file_descriptors, guarded_protocol
from service.deps import Services
from service.errors import install_error_handlers
from service.helpdesk import routes as helpdesk_routes
from service.helpdesk.runtime import Helpdesk, check_helpdesk
from service.helpdesk.settings import ENV_PREFIX as HELPDESK_ENV_PREFIX
from service.helpdesk.settings import HelpdeskSettings, load_helpdesk_settings
from service.helpdesk.settings import unknown_environment as unknown_helpdesk_environment
from service.logs import configure_logging
from service.metrics import Metrics
from service.middleware import BodyLimitMiddleware, LoopbackHostMiddleware, RequestContextMiddleware
from service.model_holder import ModelHolder
from service.next_steps import load_next_steps
from service.predict import model_info
from service.predict import routes as predict_routes
from service.review import api as review_api
from service.review import page as review_page
from service.review.hook import open_review_hook
from service.review.live_precision import LivePrecisionWatch
from service.review.queue import refresh_agreement
from service.review.retention import purge_forever
from service.review.session import SessionCodec
from service.review.web import install as install_review_page
from service.startup import model_to_serve, preflight
from service.throttle import FailureLimiter

log = logging.getLogger("triage.service")
EXIT_BAD_SETTINGS = 2
EXIT_SERVER_FAILED = 1
_DESCRIPTION = """Routes Swedish/English helpdesk tickets to **support**, **delivery** (a delivery task, not support)
or **review** (a person decides) and says what to do next. Send an API key as `Authorization: Bearer <key>`
or `X-API-Key: <key>`; roles: `predict`, `review`, `admin`, `webhook`. Every error has the body `{"error": {"code", "message"}}`.
Agents decide the tickets routed to review on the web page at [/review](/review)."""


def open_services(settings: Settings, metrics: Metrics, helpdesk_settings: HelpdeskSettings | None = None) -> Services:
    """Load the next steps and the model, open the review store and migrate it, and open the helpdesk feature (blocking I/O)."""
    next_steps = load_next_steps(settings.next_steps_file)
    holder = ModelHolder(settings, next_steps, metrics)
    review = open_review_hook(settings, metrics)
    review.start()
    if review.available:  # a database that was down a moment ago would only delay start-up again
        refresh_agreement(review.store, metrics)
    live_precision = LivePrecisionWatch(review.store, metrics, settings.audit_window_days, lambda: model_in_service(holder))
    # Without a configured secret, sessions last as long as the process: agents sign in again after a restart.
    secret = settings.session_secret.get_secret_value().encode() if settings.session_secret else secrets.token_bytes(32)
    if helpdesk_settings is None:
        helpdesk_settings = load_helpdesk_settings(settings.helpdesk_file)
    helpdesk = None
    if helpdesk_settings.configured:
        helpdesk = Helpdesk.open(helpdesk_settings, settings.database_url, metrics, lambda: holder.current, review, next_steps,
                                 settings.max_ticket_chars, settings.retention_days)
    return Services(settings=settings, keys=settings.key_ring, metrics=metrics, next_steps=next_steps, holder=holder, review=review,
                    sessions=SessionCodec(secret), auth_failures=FailureLimiter(), live_precision=live_precision, helpdesk=helpdesk,
                    model_work=anyio.CapacityLimiter(os.cpu_count() or 1))  # the GIL aside, no more at once than cores


def model_in_service(holder: ModelHolder) -> tuple[str, list[str], float | None]:
    """Version, labels and target precision of the model in service now (live precision is measured for it)."""
    model = holder.current
    return model.version, model.labels, holder.target_precision(model)


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
    for name in unknown_environment_settings((HELPDESK_ENV_PREFIX,)) + unknown_helpdesk_environment():
        log.warning(f"environment variable {name} names no setting (a typo?); it is ignored")
    if services.helpdesk is not None:
        log.info("helpdesk connectors", extra={"fields": {"helpdesks": list(services.helpdesk.connectors), "mode": services.helpdesk.settings.mode}})


def create_app(settings: Settings, helpdesk: HelpdeskSettings | None = None) -> FastAPI:
    """The app; the lifespan loads the model and opens the review store (and the helpdesk feature) once, at start-up.

    `helpdesk` defaults to the settings file `settings.helpdesk_file` with its environment overrides.
    """
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await anyio.to_thread.run_sync(open_services, settings, metrics, helpdesk)
        app.state.services = services
        _announce(services)
        if services.helpdesk is not None:
            services.helpdesk.start()
        tasks = [asyncio.create_task(services.review.flush_forever(settings.review_retry_interval)),
                 asyncio.create_task(purge_forever(services.review.store, settings.retention_days)),
                 asyncio.create_task(services.live_precision.refresh_forever())]
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
            if services.helpdesk is not None:
                await anyio.to_thread.run_sync(services.helpdesk.close)
            services.review.close()

    app = FastAPI(title="ticket-triage", version=_package_version(), description=_DESCRIPTION, lifespan=lifespan)
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, timeout=settings.request_read_timeout)
    if settings.key_ring.open:
        app.add_middleware(LoopbackHostMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: it sees every response, 413s included
    for module in (predict_routes, model_info, review_api, helpdesk_routes, admin, health, review_page):
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
        helpdesk = load_helpdesk_settings(settings.helpdesk_file)
        check_helpdesk(helpdesk, settings.key_ring, verify_model(model_dir)["labels"])
    except (ConfigError, ModelError, DataError, ValueError) as e:
        print(f"triage serve: error: {e}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    server = uvicorn.Server(uvicorn.Config(create_app(settings, helpdesk), host=settings.host, port=settings.port,
                                           http=guarded_protocol(settings.max_connections, settings.request_read_timeout),
                                           log_config=None, access_log=False, lifespan="on", server_header=False))
    try:
        server.run()
    except SystemExit as e:  # uvicorn exits this way when it cannot start
        return int(e.code or EXIT_SERVER_FAILED)
    return 0 if server.started else EXIT_SERVER_FAILED
