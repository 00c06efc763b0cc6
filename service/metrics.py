"""Prometheus metrics of one app: requests, latency, routes taken, review rate, model version, review agreement.

Each app gets its own registry, so several apps in one process (tests) never share counters.
Every label value comes from a closed set (the HTTP methods below, the app's route templates,
status codes, the model's labels): a value a client or a database could make up would add a
time series per value, and with them memory and scrape time without bound.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector, generate_latest

REVIEW_RATE_WINDOW = 1000  # predictions the review rate is computed over: recent enough to alert on
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OTHER = "other"  # the label value of everything outside a label's closed set
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUSES = frozenset(str(status.value) for status in HTTPStatus)


def method_label(method: str) -> str:
    """The request's method as a metric label: one of HTTP_METHODS, else `other` (`curl -X FOO1` is a method too)."""
    return method if method in HTTP_METHODS else OTHER


def status_label(status: int) -> str:
    """A status code as a metric label: a registered HTTP status, else `other`."""
    text = str(status)
    return text if text in _STATUSES else OTHER


class Metrics:
    """The service's metrics and the few operations that update them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter("triage_requests", "HTTP requests by endpoint, method and status",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("triage_request_duration_seconds", "HTTP request latency by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.routes = Counter("triage_routes", "Tickets routed, by route and most probable label",
                              ["route", "label"], registry=self.registry)
        self.review_rate = Gauge("triage_review_rate", f"Share of the last {REVIEW_RATE_WINDOW} predictions routed to review",
                                 registry=self.registry)
        self.model = Info("triage_model", "The model version in service", registry=self.registry)
        self.reloads = Counter("triage_model_reloads", "Model reload attempts by outcome (swapped, unchanged, refused)",
                               ["outcome"], registry=self.registry)
        self.review_buffer = Gauge("triage_review_buffer_size", "Review items waiting in the retry buffer for the database",
                                   registry=self.registry)
        self.review_buffer_bytes = Gauge("triage_review_buffer_bytes", "Bytes of the review items waiting in the retry buffer",
                                         registry=self.registry)
        self.review_refused = Counter("triage_review_refused", "Tickets routed to review answered 503: database unavailable and retry buffer full",
                                      registry=self.registry)
        self.review_failures = Counter("triage_review_enqueue_failures", "Review items the store rejected (not retried)",
                                       registry=self.registry)
        self.review_agreement = Gauge("triage_review_agreement", "Share of review decisions equal to the model's label (NaN before the first)",
                                      registry=self.registry)
        self.review_decisions = Gauge("triage_review_decisions", "Review decisions in the queue's database, by decided label",
                                      ["label"], registry=self.registry)
        self.review_label_agreement = Gauge("triage_review_label_agreement", "Per decided label, share of its decisions the model had labelled the same",
                                            ["label"], registry=self.registry)
        self.review_agreement.set(math.nan)
        self._window: deque[bool] = deque(maxlen=REVIEW_RATE_WINDOW)
        self._reviews = 0
        self._labels: frozenset[str] = frozenset()  # the model's labels: the closed set of the review label metrics
        self._lock = threading.Lock()

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency; `endpoint` is a route template or `unmatched`, never a raw path."""
        self.requests.labels(endpoint, method_label(method), status_label(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_routes(self, routes_and_labels: Iterable[tuple[str, str]], review_route: str) -> None:
        """Count predictions by route and label, and update the review rate."""
        pairs = list(routes_and_labels)
        for route, label in pairs:
            self.routes.labels(route, label).inc()
        with self._lock:
            for route, _ in pairs:
                if len(self._window) == REVIEW_RATE_WINDOW:
                    self._reviews -= self._window[0]  # about to fall out of the window
                is_review = route == review_route
                self._window.append(is_review)
                self._reviews += is_review
            if self._window:
                self.review_rate.set(self._reviews / len(self._window))

    def set_model(self, version: str, created: str, labels: Iterable[str]) -> None:
        """Publish the version now in service; its labels become the closed set of the review label metrics."""
        self.model.info({"version": version, "created": created})
        self._labels = frozenset(labels)

    def watch_review_buffer(self, items: Callable[[], int], size_bytes: Callable[[], int]) -> None:
        """Read the retry buffer's size, in items and bytes, at every scrape."""
        self.review_buffer.set_function(lambda: float(items()))
        self.review_buffer_bytes.set_function(lambda: float(size_bytes()))

    def set_review_agreement(self, agreement: float | None, decisions: Mapping[str, int], label_agreement: Mapping[str, float]) -> None:
        """Publish how often the agents' decisions matched the model (from the review store).

        A decided label the model in service does not have (an older model's, or a row written
        behind the service's back) is counted under `other`; series of labels no longer decided
        are removed, so the metric shows the store as it is now.
        """
        self.review_agreement.set(math.nan if agreement is None else agreement)
        counts: dict[str, int] = {}
        agreed: dict[str, float] = {}
        for label, count in decisions.items():
            key = label if label in self._labels else OTHER
            counts[key] = counts.get(key, 0) + count
            agreed[key] = agreed.get(key, 0.0) + label_agreement.get(label, 0.0) * count
        self.review_decisions.clear()
        self.review_label_agreement.clear()
        for key, count in counts.items():
            self.review_decisions.labels(key).set(count)
            if count:
                self.review_label_agreement.labels(key).set(agreed[key] / count)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
