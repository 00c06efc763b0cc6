"""Live precision: how often the model in service is right when it routes a ticket by itself,
measured on the agents' blind audit decisions.

Per label, over the audits of the model version in service decided in the last
`TRIAGE_AUDIT_WINDOW_DAYS` days: the share the agent gave the model's label, with a two-sided
95% Wilson interval. Only the version in service counts, because precision belongs to one
model and its thresholds: after a new version goes into service its figures start from zero.
The figures go to `/metrics`, `GET /v1/review/summary` and the review page; a warning is logged
when a label's interval lies wholly below the target precision with at least
MIN_AUDITS_FOR_WARNING audits behind it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import anyio.to_thread

from model.decision import wilson_interval
from service.db.errors import StoreError
from service.metrics import Metrics
from service.review.store import ReviewStore

log = logging.getLogger("triage.audit")
INTERVAL_Z = 1.959964  # two-sided 95%: the true precision lies inside the interval 19 times in 20
MIN_AUDITS_FOR_WARNING = 30  # fewer audits give an interval too wide to act on
REFRESH_SECONDS = 3600.0  # the window slides by itself: old audits leave it even when nobody decides
REWARN_SECONDS = 3600.0  # a label that stays below target is warned about again hourly, not at every decision


@dataclass(frozen=True)
class LabelPrecision:
    """Live precision of one label: `correct` of `audits` auto-routed tickets were right."""

    label: str
    audits: int
    correct: int
    precision: float | None
    lower: float | None
    upper: float | None

    @classmethod
    def of(cls, label: str, audits: int, correct: int) -> LabelPrecision:
        """The estimate and its 95% Wilson interval; None for all three without audits."""
        if audits == 0:
            return cls(label, 0, 0, None, None, None)
        lower, upper = wilson_interval(correct, audits, INTERVAL_Z)
        return cls(label, audits, correct, correct / audits, float(lower), float(upper))

    def below(self, target: float | None) -> bool:
        """Whether enough audits put the whole interval below `target` (the promise is broken)."""
        return target is not None and self.upper is not None and self.audits >= MIN_AUDITS_FOR_WARNING and self.upper < target


@dataclass(frozen=True)
class LivePrecision:
    """Live precision per label of one model version, and the audits still waiting for an agent."""

    model_version: str
    window_days: int
    target: float | None
    pending_audits: int
    per_label: dict[str, LabelPrecision] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, model_version: str, window_days: int, target: float | None, labels: list[str],
                    counts: Mapping[str, tuple[int, int]], pending_audits: int) -> LivePrecision:
        """Build from the store's {label: (audits, correct)}; every one of `labels` gets an entry."""
        names = [*labels, *sorted(set(counts) - set(labels))]
        per_label = {label: LabelPrecision.of(label, *counts.get(label, (0, 0))) for label in names}
        return cls(model_version, window_days, target, pending_audits, per_label)

    def below_target(self) -> list[LabelPrecision]:
        """The labels whose interval lies below the target, with enough audits to say so."""
        return [p for p in self.per_label.values() if p.below(self.target)]


def measure(store: ReviewStore, model_version: str, labels: list[str], target: float | None, window_days: int) -> LivePrecision:
    """Live precision of `model_version` from its audits decided in the last `window_days` days; StoreError if the database fails."""
    counts = store.audit_counts(window_days, model_version)
    return LivePrecision.from_counts(model_version, window_days, target, labels, counts, store.count_pending_audits())


class LivePrecisionWatch:
    """Reads live precision from the store, publishes it as metrics, and warns when it is below target."""

    def __init__(self, store: ReviewStore, metrics: Metrics, window_days: int, model: Callable[[], tuple[str, list[str], float | None]],
                 *, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.metrics = metrics
        self.window_days = window_days
        self._model = model  # (version, labels, target precision) of the model in service now
        self._clock = clock
        self._warned_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def read(self) -> LivePrecision:
        """The current figures, published and checked; StoreError when the database fails."""
        version, labels, target = self._model()
        live = measure(self.store, version, labels, target, self.window_days)
        self.metrics.set_live_precision(live.target, live.pending_audits, {
            p.label: (p.audits, p.precision, p.lower, p.upper) for p in live.per_label.values()})
        self._warn(live)
        return live

    def refresh(self) -> LivePrecision | None:
        """`read`, with a failing database logged instead of raised (the old figures stay)."""
        try:
            return self.read()
        except StoreError as e:
            log.warning("live precision not refreshed", extra={"fields": {"reason": str(e)}})
            return None

    def _warn(self, live: LivePrecision) -> None:
        now = self._clock()
        below = {p.label: p for p in live.below_target()}
        with self._lock:
            for label in [label for label in self._warned_at if label not in below]:
                del self._warned_at[label]
                log.info("live precision no longer below the target", extra={"fields": {"label": label, "model_version": live.model_version}})
            due = [p for label, p in below.items() if label not in self._warned_at or now - self._warned_at[label] >= REWARN_SECONDS]
            for p in due:
                self._warned_at[p.label] = now
        for p in due:
            log.warning(
                f"live precision of '{p.label}' is below the target: the blind audits' 95% interval ends at {p.upper:.3f} < {live.target}",
                extra={"fields": {"label": p.label, "model_version": live.model_version, "audits": p.audits, "correct": p.correct,
                                  "precision": p.precision, "lower": p.lower, "upper": p.upper, "target": live.target,
                                  "window_days": live.window_days}})

    async def refresh_forever(self, interval: float = REFRESH_SECONDS) -> None:
        """Refresh now and then every `interval` seconds (background task)."""
        while True:
            try:
                await anyio.to_thread.run_sync(self.refresh)
            except Exception:  # a task that died would leave the gauges stale unnoticed
                log.exception("live precision refresh failed")
            await asyncio.sleep(interval)
