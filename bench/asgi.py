"""Where a request's time goes inside the server: the app called directly (ASGI, no HTTP).

The service benchmark measures whole requests over loopback; this one calls the same FastAPI
app in process, so the figures hold only what FastAPI and the endpoints do, without uvicorn's
HTTP handling. `/v1/predict` is measured with the default explanation and without one, and
beside them the endpoint's own steps one at a time (cleaning; model, explanation, language and
response model; serialising; the review-queue write of the tickets routed to review), so that
what remains is FastAPI's handling of a JSON POST (routing, middleware, body parsing and
validation, the API-key dependency).

Blind audits are off while `/v1/predict` is timed: the service writes them after the response is
sent, which an HTTP client does not wait for but an in-process call of the app does. Their cost
is measured on its own instead: the share of these tickets the default rate picks, and one
audit's write.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import texts_of_length
from bench.inprocess import latencies_taking_turns
from model.decision import REVIEW
from model.language import detect_language
from service.app import create_app
from service.config import Settings, load_settings
from service.predict.routes import classify, clean_ticket, json_response, queue_audits, queue_reviews
from service.predict.schemas import PredictRequest
from service.review import audit_key, picked_for_audit

REPEATS = 3


async def _call(app: Any, method: str, path: str, body: bytes) -> int:
    """One request through the app; returns its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _median_us(app: Any, method: str, path: str, bodies: list[bytes]) -> float:
    for body in bodies[:20]:  # warm up
        if await _call(app, method, path, body) != 200:
            raise RuntimeError(f"{method} {path} did not answer 200")
    out = []
    for _ in range(REPEATS):
        for body in bodies:
            start = time.perf_counter_ns()
            await _call(app, method, path, body)
            out.append(time.perf_counter_ns() - start)
    return float(np.median(out)) / 1000


def _step_us(fn: Callable[[Any], Any], items: list[Any]) -> float:
    return float(np.median(latencies_taking_turns({"step": fn}, items, REPEATS)["step"]))


def _endpoint_steps(app: Any, texts: list[str], bodies: list[bytes]) -> dict[str, float]:
    """The predict endpoint's own steps, one at a time, on the app's model and services."""
    services = app.state.services
    model = services.holder.current
    limit = services.settings.max_ticket_chars
    tickets = [PredictRequest.model_validate_json(b) for b in bodies]
    cleaned = [c for c in (clean_ticket(t, limit) for t in texts) if isinstance(c, str)]
    if len(cleaned) != len(texts):
        raise RuntimeError("every benchmark ticket should have text left to classify")
    responses = classify(model, services, tickets, texts, cleaned)
    to_review = [i for i, r in enumerate(responses) if r.route == REVIEW]
    rate = Settings.model_fields["audit_rate"].default
    keyed = [(t, r, audit_key(t.id, t.subject, t.body)) for t, r in zip(tickets, responses) if r.route != REVIEW]
    audits = [(t, r, key) for t, r, key in keyed if picked_for_audit(key, rate)]
    return {
        "cleaning_us": _step_us(lambda t: clean_ticket(t, limit), texts),
        "model_us": _step_us(lambda c: model.predict_cleaned([c]), cleaned),
        "model_explained_us": _step_us(lambda c: model.predict_cleaned([c], explain=True), cleaned),
        "language_us": _step_us(detect_language, texts),
        # The endpoint's whole own work after cleaning: model, explanation, language, response model.
        "classify_us": _step_us(lambda i: classify(model, services, [tickets[i]], [texts[i]], [cleaned[i]]), list(range(len(texts)))),
        "serialise_us": _step_us(json_response, responses),
        # Tickets routed to review are also written to the review queue (in a worker thread).
        "review_share": len(to_review) / len(responses),
        "review_write_us": _step_us(lambda i: queue_reviews(model, services, [tickets[i]], [responses[i]]), to_review) if to_review else 0.0,
        # At the default TRIAGE_AUDIT_RATE, a share of the tickets routed automatically is written as blind audits.
        "audit_share": len(audits) / len(responses),
        "audit_write_us": _step_us(lambda a: queue_audits(model, services, [a]), audits) if audits else 0.0,
    }


async def _measure(model_dir: Path, database: str) -> dict[str, float]:
    texts = texts_of_length(60, 200)
    bodies = [json.dumps({"id": f"a{i}", "body": t}).encode() for i, t in enumerate(texts)]
    results: dict[str, float] = {}
    for explain_terms, name in ((6, "predict_us"), (0, "predict_unexplained_us")):
        app = create_app(load_settings({"model": model_dir, "database_url": database, "watch_interval": 0, "explain_terms": explain_terms,
                                        "audit_rate": 0.0}))
        async with app.router.lifespan_context(app):  # loads the model, opens the review store
            if explain_terms:
                results["healthz_us"] = await _median_us(app, "GET", "/healthz", [b""] * len(bodies))
                results.update(_endpoint_steps(app, texts, bodies))
            results[name] = await _median_us(app, "POST", "/v1/predict", bodies)
    own = results["cleaning_us"] + results["classify_us"] + results["serialise_us"] + results["review_share"] * results["review_write_us"]
    results["fastapi_us"] = results["predict_us"] - own
    return results


def asgi_breakdown(model_dir: Path) -> dict[str, float]:
    """Median microseconds per request through the app, and per step of the predict endpoint."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_measure(model_dir.resolve(), f"sqlite:///{Path(tmp) / 'asgi.db'}"))
