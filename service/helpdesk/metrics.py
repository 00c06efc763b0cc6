"""The helpdesk feature's metrics, registered on the app's registry so `/metrics` shows them.

Every label value comes from a closed set: the helpdesk names, the job kinds and outcomes, and
the status classes of the calls.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

EVENT_OUTCOMES = ("queued", "duplicate", "ignored")
JOB_OUTCOMES = ("done", "retried", "rate_limited", "dead")
CALL_RESULTS = ("2xx", "4xx", "429", "5xx", "timeout", "connection_failed")


class HelpdeskMetrics:
    """Events received, jobs finished by outcome, calls to the helpdesks, and the dead letters waiting."""

    def __init__(self, registry: CollectorRegistry):
        self.events = Counter("triage_helpdesk_events", "Helpdesk webhook events accepted, by helpdesk and outcome",
                              ["helpdesk", "outcome"], registry=registry)
        self.jobs = Counter("triage_helpdesk_jobs", "Helpdesk job attempts, by helpdesk and outcome (done, retried, rate_limited, dead)",
                            ["helpdesk", "outcome"], registry=registry)
        self.calls = Counter("triage_helpdesk_calls", "Calls to the helpdesk API, by helpdesk and result",
                             ["helpdesk", "result"], registry=registry)
        self.dead_letters = Gauge("triage_helpdesk_dead_letters", "Helpdesk jobs given up on and waiting for an admin to retry them",
                                  ["helpdesk"], registry=registry)
        self.waiting = Gauge("triage_helpdesk_jobs_waiting", "Helpdesk jobs queued or running", ["helpdesk"], registry=registry)

    def set_counts(self, dead: Mapping[str, int], waiting: Mapping[str, int], helpdesks: tuple[str, ...]) -> None:
        """Publish the job table's counts (a helpdesk with none shows 0)."""
        for name in helpdesks:
            self.dead_letters.labels(name).set(dead.get(name, 0))
            self.waiting.labels(name).set(waiting.get(name, 0))
