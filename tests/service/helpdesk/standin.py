"""What the helpdesk stand-ins share: a real HTTP server (uvicorn in a thread, on a loopback port)
that checks Basic auth, keeps a per-minute rate limit with `X-Ratelimit-*` headers and 429 +
`Retry-After`, records every request, and lets a test inject failures and hold a request.

The stand-ins keep their tickets in memory and behave as the helpdesks' documentation says;
each subclass adds its routes (see freshdesk_standin.py and zendesk_standin.py).
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.server_process import free_port

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Fault:
    """Answer the next `times` matching requests with `status` (and `headers`), or hang past the client's timeout (`status=0`)."""

    method: str
    path_prefix: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass
class Hold:
    """Hold a matching request: before it takes effect (`after=False`) or after, before answering. `reached` is set when one arrives."""

    method: str
    path_prefix: str
    after: bool = False
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Call:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: str
    json: Any
    status: int = 0


class StandIn(ABC):
    """Base of the helpdesk stand-ins; subclasses define their routes, who is authorised and the 401 they answer."""

    rate_limit_per_minute = 1000

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.lock = threading.RLock()
        self._window_start = time.monotonic()
        self._used = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- what subclasses define ------------------------------------------------------------
    @abstractmethod
    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) of every endpoint."""

    @abstractmethod
    def authorised(self, user: str, password: str) -> bool:
        """Whether Basic credentials are accepted."""

    @abstractmethod
    def unauthorised(self) -> Response:
        """The helpdesk's 401."""

    # --- test controls -----------------------------------------------------------------------
    def fail(self, method: str, path_prefix: str, status: int, times: int = 1, headers: dict[str, str] | None = None, body: Any = None) -> None:
        with self.lock:
            self.faults.append(Fault(method, path_prefix, status, times, headers or {}, body))

    def hold(self, method: str, path_prefix: str, after: bool = False) -> Hold:
        hold = Hold(method, path_prefix, after)
        with self.lock:
            self.holds.append(hold)
        return hold

    def release_all(self) -> None:
        with self.lock:
            for hold in self.holds:
                hold.release.set()
            self.holds.clear()

    def calls_to(self, method: str, path_prefix: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix) and 200 <= c.status < 300]

    # --- the server --------------------------------------------------------------------------
    def _matching_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == request.method and request.url.path.startswith(fault.path_prefix) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _matching_hold(self, request: Request, after: bool) -> Hold | None:
        with self.lock:
            return next((h for h in self.holds if h.method == request.method and request.url.path.startswith(h.path_prefix) and h.after == after
                         and not h.release.is_set()), None)

    @staticmethod
    async def _wait(hold: Hold) -> None:
        hold.reached.set()
        while not hold.release.is_set():
            await asyncio.sleep(0.02)

    def _rate_headers(self) -> dict[str, str]:
        return {"X-Ratelimit-Total": str(self.rate_limit_per_minute), "X-Ratelimit-Remaining": str(max(self.rate_limit_per_minute - self._used, 0)),
                "X-Ratelimit-Used-CurrentRequest": "1"}

    def _wrap(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                body = await request.json() if await request.body() else None
            except ValueError:
                body = None
            call = Call(request.method, request.url.path, request.url.query, body)
            with self.lock:
                self.calls.append(call)
            response = await self._answer(request, handler)
            call.status = response.status_code
            return response

        return endpoint

    async def _answer(self, request: Request, handler: Handler) -> Response:
        user, password = _basic(request)
        if not self.authorised(user, password):
            return self.unauthorised()
        with self.lock:
            if time.monotonic() - self._window_start >= 60:
                self._window_start, self._used = time.monotonic(), 0
            self._used += 1
            over = self._used > self.rate_limit_per_minute
            headers = self._rate_headers()
        if over:
            retry = max(1, int(60 - (time.monotonic() - self._window_start)))
            return JSONResponse({"message": "You have exceeded the limit of requests per minute"}, status_code=429,
                                headers={**headers, "Retry-After": str(retry)})
        fault = self._matching_fault(request)
        if fault is not None:
            if fault.status == 0:
                await asyncio.sleep(30)  # past any client timeout the tests use
            return JSONResponse(fault.body if fault.body is not None else {"message": "stand-in fault"}, status_code=fault.status,
                                headers={**headers, **fault.headers})
        hold = self._matching_hold(request, after=False)
        if hold is not None:
            await self._wait(hold)
        response = await handler(request)
        hold = self._matching_hold(request, after=True)
        if hold is not None:
            await self._wait(hold)
        for name, value in headers.items():
            response.headers[name] = value
        return response

    def start(self) -> StandIn:
        app = Starlette(routes=[Route(path, self._wrap(handler), methods=[method]) for method, path, handler in self.routes()])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the stand-in server should start within 10 s"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.release_all()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


def _basic(request: Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
    except ValueError:
        return "", ""
    return user, password
