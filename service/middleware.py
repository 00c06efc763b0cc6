"""Request wrappers: request id, access log, metrics and the 500 of last resort; the body-size limit.

Plain ASGI middleware (not `BaseHTTPMiddleware`), so they add no task or copy per request.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_body
from service.logs import request_id_var
from service.metrics import Metrics

log = logging.getLogger("triage.access")
REQUEST_ID_HEADER = "x-request-id"
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # anything else could forge log lines; a new id is made


class RequestContextMiddleware:
    """Give every request an id (accepted from X-Request-ID or generated), log it, and measure it."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode("ascii"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise  # too late for an error response; the server closes the connection
            # The log formatter keeps only the exception's type and frames, never its message.
            log.error("unhandled error", exc_info=exc, extra={"fields": {"path": scope.get("path", "")}})
            await _send_json(send_with_id, 500, error_body(
                "internal_error", "unexpected error; the service log has details under this response's X-Request-ID"))
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            self.metrics.observe_request(endpoint, scope["method"], status, seconds)
            log.info("request", extra={"fields": {
                "method": scope["method"], "path": scope.get("path", ""), "endpoint": endpoint,
                "status": status, "duration_ms": round(seconds * 1000, 2),
            }})
            request_id_var.reset(token)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            if _ACCEPTED_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


async def _send_json(send: Send, status: int, content: dict[str, object]) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """A request body over the limit; FastAPI lets HTTPExceptions raised while reading the body through."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes; send fewer or shorter tickets per request")


class BodyLimitMiddleware:
    """Refuse bodies over `limit` bytes with 413: by Content-Length up front, and by counting streamed bytes."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_json(send, 413, error_body("body_too_large", str(BodyTooLarge(self.limit).detail)))
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)
