"""Turning away a client address that presents wrong keys too often (API and review page sign-in).

Each address may fail FAILURE_LIMIT key checks within FAILURE_WINDOW_SECONDS (a sliding window);
after that no key from it is checked, right or wrong, until its oldest failure leaves the
window. The API answers 429 with `Retry-After` meanwhile, the sign-in page likewise. The record
is bounded: at most MAX_ADDRESSES addresses are remembered (the longest quiet are forgotten
first), and IPv6 addresses count by their /64 network, which one machine usually holds whole.

The address is the one the server saw, which behind a reverse proxy is the proxy's unless the
proxy passes the client's in `X-Forwarded-For` (uvicorn trusts that header from the addresses in
`FORWARDED_ALLOW_IPS`, by default 127.0.0.1): see docs/SERVICE.md.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.types import Scope

FAILURE_LIMIT = 20  # generous for typing mistakes; at 20 a minute, a key of 10**12 guesses outlasts any attacker
FAILURE_WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000  # about 2 MB at most, whatever the number of addresses that try
UNKNOWN_ADDRESS = "unknown"  # a transport that gives no peer address (a Unix socket)


def client_address(scope: Scope) -> str:
    """The address failures are counted under: the client's IP, IPv6 by its /64 network."""
    client = scope.get("client")
    host = client[0] if client else None
    if not host:
        return UNKNOWN_ADDRESS
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return str(host)[:64]  # not an IP (a test client's name): counted as it is
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class FailureLimiter:
    """Failed key checks per address in a sliding window, with a bounded memory of addresses."""

    def __init__(self, limit: int = FAILURE_LIMIT, window: float = FAILURE_WINDOW_SECONDS, max_addresses: int = MAX_ADDRESSES,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # least recently failed first
        self._lock = threading.Lock()  # the sign-in page runs in worker threads

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str) -> int | None:
        """Whole seconds until `address` may try a key again, or None if it may now."""
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if times is None or len(times) < self.limit:
                return None
            return max(1, math.ceil(times[0] + self.window - now))

    def record(self, address: str) -> None:
        """Count one wrong key from `address`."""
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if times is None:
                times = self._failures[address] = deque(maxlen=self.limit)
            times.append(now)
            self._failures.move_to_end(address)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)

    def tracked(self) -> int:
        """How many addresses are remembered now."""
        return len(self._failures)
