"""Bounds on client connections for `triage serve`: how many may be open, and how long a request may take to arrive.

uvicorn keeps a connection open for as long as its client sends nothing, or sends a request head
one byte at a time, and accepts as many connections as the operating system lets it; 20,000
clients doing that used up the process's file descriptors before any key was checked.
`GuardedH11Protocol` is uvicorn's HTTP/1.1 protocol with two bounds added:

- at most `max_connections` connections are open: one more is answered 503 (with `Retry-After`)
  and closed at once, so it holds its file descriptor for microseconds;
- a request head must arrive in full within `request_read_timeout` seconds of the connection
  opening or of the previous response; otherwise the connection is closed.

The body's own deadline is `service.middleware.BodyLimitMiddleware`'s (408). In production the
service runs behind a reverse proxy that buffers requests (docs/SERVICE.md); these bounds keep
it standing when something reaches it directly.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

# File descriptors the process needs besides client connections: the database pool, the retry
# buffer, model files while a new version loads, logs, the registry watcher, Python itself.
RESERVED_FILE_DESCRIPTORS = 128
BUSY_RETRY_AFTER_SECONDS = 1
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
         b"retry-after: %d\r\ncontent-length: %d\r\n\r\n%s")
_BUSY_BODY = (b'{"error": {"code": "too_many_connections", "message": "the service has as many open connections as it allows; '
              b'try again in a moment"}}')
BUSY_RESPONSE = _BUSY % (BUSY_RETRY_AFTER_SECONDS, len(_BUSY_BODY), _BUSY_BODY)


def ensure_file_descriptors(max_connections: int) -> int:
    """Make sure the process may open `max_connections` connections plus what it needs itself.

    Raises the soft limit on open files towards the hard one if needed; ValueError says what to
    change when even the hard limit is too low. Returns the soft limit in force.
    """
    needed = max_connections + RESERVED_FILE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return needed
    raise ValueError(f"TRIAGE_MAX_CONNECTIONS={max_connections} needs {needed} open files, but this process may open at most {hard}; "
                     f"lower TRIAGE_MAX_CONNECTIONS to {max(8, hard - RESERVED_FILE_DESCRIPTORS)} or raise the limit (ulimit -n, LimitNOFILE=)")


def guarded_protocol(max_connections: int, request_read_timeout: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with these bounds (a class, as uvicorn's `http` setting takes)."""

    class GuardedH11Protocol(H11Protocol):
        """H11Protocol that refuses connections over the limit and closes those slow to send a request head."""

        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(BUSY_RESPONSE)
                transport.close()
                return
            self._await_head()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # a whole request head arrived: the body has its own deadline
                self._cancel_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._await_head()  # the next request on this connection (a pipelined one has started already)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_deadline()
            super().connection_lost(exc)

        def _await_head(self) -> None:
            self._cancel_head_deadline()
            self._head_deadline = self.loop.call_later(request_read_timeout, self._head_too_slow)

        def _cancel_head_deadline(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _head_too_slow(self) -> None:
            self._head_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol
