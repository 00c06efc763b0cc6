"""Request wrappers: request id, access log, metrics and the 500 of last resort; the body-size limit.

Plain ASGI middleware (not `BaseHTTPMiddleware`), so they add no task or copy per request.

Every request gets an id of the service's own making, unique per request, in the logs and the
`X-Request-ID` response header. An `X-Request-ID` the client sent is kept beside it as
`client_request_id` (for finding a caller's request), never as the id itself: a client could
otherwise give its requests the id of someone else's and mix their log lines together.
The access log names the route template, never the path as sent: a path can hold anything a
client typed, an e-mail address included.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_body
from service.logs import request_id_var
from service.metrics import Metrics, method_label

log = logging.getLogger("triage.access")
REQUEST_ID_HEADER = "x-request-id"
UNMATCHED = "unmatched"  # the endpoint of a request no route took (404, 405)
_ACCEPTED_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # anything else could forge log lines; it is left out


class RequestContextMiddleware:
    """Give every request an id of its own, log it, and measure it."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
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
            log.error("unhandled error", exc_info=exc, extra={"fields": {"endpoint": _endpoint(scope)}})
            await _send_json(send_with_id, 500, error_body(
                "internal_error", "unexpected error; the service log has details under this response's X-Request-ID"))
        finally:
            seconds = time.perf_counter() - started
            endpoint = _endpoint(scope)
            self.metrics.observe_request(endpoint, scope["method"], status, seconds)
            fields: dict[str, object] = {"method": method_label(scope["method"]), "endpoint": endpoint,
                                         "status": status, "duration_ms": round(seconds * 1000, 2)}
            client_id = _client_request_id(scope)
            if client_id is not None:
                fields["client_request_id"] = client_id
            log.info("request", extra={"fields": fields})
            request_id_var.reset(token)


def _endpoint(scope: Scope) -> str:
    """The route template that took the request (`/v1/review/items/{item_id}`), or `unmatched`."""
    return str(getattr(scope.get("route"), "path", UNMATCHED))


def _client_request_id(scope: Scope) -> str | None:
    """The X-Request-ID the client sent, if it is one that cannot forge a log line."""
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            return text if _ACCEPTED_CLIENT_ID.fullmatch(text) else None
    return None


async def _send_json(send: Send, status: int, content: dict[str, object]) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """A request body over the limit; FastAPI lets HTTPExceptions raised while reading the body through."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes; send fewer or shorter tickets per request")


class BodyTooSlow(HTTPException):
    """A request body that did not arrive in time; the connection is closed after the answer."""

    def __init__(self, timeout: float):
        super().__init__(408, f"the request body did not arrive within {timeout:g} seconds; send it at once, or in smaller requests",
                         headers={"Connection": "close"})


class BodyLimitMiddleware:
    """Refuse bodies over `limit` bytes with 413 (by Content-Length up front, and by counting
    streamed bytes), and bodies still incomplete `timeout` seconds after the request began with 408.

    A client that sends a body one byte at a time would otherwise hold its connection, and a
    worker waiting for the rest, for as long as it likes.
    """

    def __init__(self, app: ASGIApp, limit: int, timeout: float):
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_json(send, 413, error_body("body_too_large", str(BodyTooLarge(self.limit).detail)))
                return
        received = 0
        deadline = time.monotonic() + self.timeout
        body_done = False

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # later calls wait for the client to disconnect, which may take as long as the response
                return await receive()
            try:
                with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
                body_done = not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)


_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def is_loopback_host_header(value: str) -> bool:
    """Whether a Host header names this machine: localhost, a 127.x address or [::1], with any port."""
    host = value.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[: host.find("]") + 1] if "]" in host else host
    else:
        host = host.rpartition(":")[0] if ":" in host else host
    if host in _LOOPBACK_NAMES:
        return True
    parts = host.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


class LoopbackHostMiddleware:
    """In open mode (no API keys), answer only requests addressed to a loopback name (400 otherwise).

    Without keys every request gets every role, and a listener on loopback alone does not keep
    web pages out: a page can resolve its own name to 127.0.0.1 (DNS rebinding) and then call
    the service from the agent's browser, under its own name. Such a request carries that name
    in its Host header, which a browser does not let the page change.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"host"), "")
            if not is_loopback_host_header(host):
                await _send_json(send, 400, error_body(
                    "host_not_allowed", "without API keys the service answers only requests to localhost, 127.0.0.1 or [::1]; "
                    "use one of those names, or configure API keys (docs/SERVICE.md) to serve under another name"))
                return
        await self.app(scope, receive, send)
