"""One HTTP call to a helpdesk API, with its failure sorted into the kinds the worker acts on.

Built on httpx. A timeout, a lost connection and a 5xx are `HelpdeskUnavailable`; a 429 is
`RateLimited` with the wait the helpdesk asked for; any other 4xx is `HelpdeskRejected` with the
helpdesk's own error code (never its message, which can quote a field's value).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from service.helpdesk.base import HelpdeskRejected, HelpdeskUnavailable, RateLimited
from service.helpdesk.metrics import HelpdeskMetrics

DEFAULT_RETRY_AFTER = 60.0  # seconds, when a 429 does not say
MAX_RETRY_AFTER = 3600.0  # a larger Retry-After is read as this: the job is looked at again within the hour
USER_AGENT = "ticket-triage"


def retry_after_seconds(value: str | None, now: float | None = None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), within [1, MAX_RETRY_AFTER]."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


class Transport:
    """An httpx client bound to one helpdesk's API, counting every call by result."""

    def __init__(self, name: str, base_url: str, auth: httpx.Auth, timeout: float, metrics: HelpdeskMetrics | None,
                 error_code: Callable[[httpx.Response], str]):
        self.name = name
        self.metrics = metrics
        self._error_code = error_code
        self.client = httpx.Client(base_url=base_url, auth=auth, timeout=timeout, follow_redirects=False,
                                   headers={"User-Agent": USER_AGENT, "Accept": "application/json"})

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.calls.labels(self.name, result).inc()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; return a 2xx/3xx response or raise the matching `HelpdeskError`.

        An absolute URL (a next-page link) must point at the helpdesk itself: the API key goes with every request.
        """
        target = httpx.URL(path)
        if target.is_absolute_url and (target.scheme, target.host, target.port) != (self.client.base_url.scheme, self.client.base_url.host,
                                                                                   self.client.base_url.port):
            raise HelpdeskRejected("foreign_link", f"{self.name} sent a link to another host ({target.host}); not following it")
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            self._count("timeout")
            raise HelpdeskUnavailable("timeout", f"{self.name} did not answer {method} in time") from None
        except httpx.TransportError as e:
            self._count("connection_failed")
            raise HelpdeskUnavailable("connection_failed", f"{self.name} could not be reached ({type(e).__name__})") from None
        status = response.status_code
        if status == 429:
            self._count("429")
            raise RateLimited(retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500:
            self._count("5xx")
            raise HelpdeskUnavailable(f"http_{status}", f"{self.name} answered {status} to {method}", status)
        if status >= 400:
            self._count("4xx")
            code = self._error_code(response)
            raise HelpdeskRejected(code, f"{self.name} refused {method} with {status} ({code})", status)
        self._count("2xx")
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`call`, then the response's JSON; a body that is not JSON counts as the helpdesk failing."""
        response = self.call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise HelpdeskUnavailable("invalid_json", f"{self.name} answered {method} with a body that is not JSON", response.status_code) from None

    def close(self) -> None:
        """Close the pooled connections."""
        self.client.close()


def parse_time(value: object) -> datetime:
    """An ISO 8601 timestamp from a helpdesk (`...Z`), timezone-aware; the epoch when missing or malformed."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(0, UTC)
