"""The worker: takes jobs from the job table and carries them out, respecting the helpdesk's limits.

- 429 with Retry-After: the job is rescheduled for then (not counted as a failure).
- 5xx, timeouts, no connection: retried after `backoff_seconds`, doubling up to
  `max_backoff_seconds`, until `max_attempts` failures; then it is dead-lettered.
- Any other 4xx (a validation error, a deleted ticket): dead-lettered at once.

It runs as a thread inside `triage serve` and as `triage helpdesk-worker` on its own; on
PostgreSQL any number of them can share the table. Logs name the job, the ticket id and the
helpdesk's error code, never ticket text.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import timedelta

from service.db.errors import StoreError
from service.helpdesk.base import HelpdeskRejected, HelpdeskUnavailable, RateLimited
from service.helpdesk.jobs import Job, JobStore, LeaseLost
from service.helpdesk.metrics import HelpdeskMetrics
from service.helpdesk.settings import WorkerSettings
from service.helpdesk.writeback import WriteBack

log = logging.getLogger("triage.helpdesk")
COUNTS_EVERY_SECONDS = 5.0  # how often the metrics' job counts are read from the table
PURGE_EVERY_SECONDS = 3600.0
JITTER = 0.2  # backoff waits are spread by up to this share, so jobs that failed together do not retry together


def backoff(attempts: int, settings: WorkerSettings) -> float:
    """Seconds before the next try after `attempts` failures: doubling from `backoff_seconds`, capped, with jitter."""
    base = min(settings.backoff_seconds * 2 ** (attempts - 1), settings.max_backoff_seconds)
    return base * (1 - JITTER * random.random())


class Worker:
    """Claims due jobs one at a time and runs them through `WriteBack`."""

    def __init__(self, store: JobStore, writeback: WriteBack, settings: WorkerSettings, metrics: HelpdeskMetrics, helpdesks: tuple[str, ...],
                 retention_days: int):
        self.store, self.writeback, self.settings, self.metrics = store, writeback, settings, metrics
        self.helpdesks = helpdesks
        self.retention_days = retention_days
        self.wake = threading.Event()  # set when a job is queued, so it is taken at once
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._counted_at = self._purged_at = 0.0

    def _fields(self, job: Job, **more: object) -> dict[str, object]:
        return {"job": job.id, "helpdesk": job.helpdesk, "kind": job.kind, "ticket_id": job.ticket_id, **more}

    def run_once(self) -> bool:
        """Take one due job and carry it out; False when none was due."""
        job = self.store.claim(self.helpdesks, self.settings.lease_seconds)
        if job is None:
            return False
        self.handle(job)
        return True

    def handle(self, job: Job) -> None:
        """Carry out a claimed job and record the outcome: done, rescheduled or dead."""
        def save(progress: dict[str, object], review_ticket_id: str | None) -> None:
            self.store.save_progress(job, progress, self.settings.lease_seconds, review_ticket_id)

        attempts = job.attempts + 1
        try:
            progress = self.writeback.run(job, save)
        except LeaseLost:
            log.warning("helpdesk job taken over by another worker; leaving it", extra={"fields": self._fields(job)})
            return
        except RateLimited as e:
            self.store.reschedule(job, self.store.now() + timedelta(seconds=e.retry_after), job.attempts, e.code)
            self.metrics.jobs.labels(job.helpdesk, "rate_limited").inc()
            log.warning("helpdesk rate limit; job rescheduled", extra={"fields": self._fields(job, error_code=e.code, retry_in_s=e.retry_after)})
        except HelpdeskUnavailable as e:
            if attempts >= self.settings.max_attempts:
                self._bury(job, attempts, f"{e.code}: {e}")
            else:
                wait = backoff(attempts, self.settings)
                self.store.reschedule(job, self.store.now() + timedelta(seconds=wait), attempts, e.code)
                self.metrics.jobs.labels(job.helpdesk, "retried").inc()
                log.warning("helpdesk unavailable; job will be retried", extra={"fields": self._fields(
                    job, error_code=e.code, status=e.status, attempts=attempts, retry_in_s=round(wait, 1))})
        except HelpdeskRejected as e:
            self._bury(job, attempts, f"{e.code}: {e}", status=e.status)
        except StoreError:
            raise  # the database is gone: the lease runs out and the job is taken again once it is back
        except Exception as e:  # a bug must not retry forever, nor stop the worker
            log.exception("helpdesk job failed unexpectedly", extra={"fields": self._fields(job)})
            self._bury(job, attempts, f"internal_error: {type(e).__name__}")
        else:
            self.store.finish(job, progress)
            self.metrics.jobs.labels(job.helpdesk, "done").inc()
            log.info("helpdesk job done", extra={"fields": self._fields(job, steps=progress.get("done"), route=progress.get("route"),
                                                                        skipped=progress.get("skipped"))})

    def _bury(self, job: Job, attempts: int, error: str, status: int | None = None) -> None:
        self.store.bury(job, attempts, error)
        self.metrics.jobs.labels(job.helpdesk, "dead").inc()
        log.error("helpdesk job dead-lettered", extra={"fields": self._fields(job, error_code=error.split(":")[0], status=status, attempts=attempts)})

    def refresh_counts(self) -> None:
        """Publish the dead letters and waiting jobs per helpdesk in the metrics."""
        counts = self.store.counts()
        dead = {h: n for (h, state), n in counts.items() if state == "dead"}
        waiting: dict[str, int] = {}
        for (h, state), n in counts.items():
            if state in ("queued", "running"):
                waiting[h] = waiting.get(h, 0) + n
        self.metrics.set_counts(dead, waiting, self.helpdesks)
        self._counted_at = time.monotonic()

    def _housekeeping(self) -> None:
        if time.monotonic() - self._counted_at >= COUNTS_EVERY_SECONDS:
            self.refresh_counts()
        if time.monotonic() - self._purged_at >= PURGE_EVERY_SECONDS:
            removed = self.store.purge_done(self.retention_days)
            self._purged_at = time.monotonic()
            if removed:
                log.info("finished helpdesk jobs past retention deleted", extra={"fields": {"removed": removed}})

    def _migrate_quietly(self) -> None:
        """Create the table if the database was down at start-up (a no-op once it is current)."""
        try:
            self.store.migrate()
        except StoreError:
            pass  # still down: the next round tries again

    def run_forever(self) -> None:
        """Work until `stop()`: jobs as they come due, otherwise wait `poll_seconds` (or until woken)."""
        while not self._stopping.is_set():
            try:
                self._housekeeping()
                if self.run_once():
                    continue
            except StoreError as e:
                log.error("helpdesk job table unavailable; the worker waits", extra={"fields": {"reason": str(e)}})
                self._migrate_quietly()
            except Exception:  # the worker thread must outlive any one failure
                log.exception("helpdesk worker iteration failed")
            self.wake.wait(self.settings.poll_seconds)
            self.wake.clear()

    def start(self) -> None:
        """Run in a background thread."""
        self._thread = threading.Thread(target=self.run_forever, name="helpdesk-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the job in hand and stop (waiting at most `timeout` seconds)."""
        self._stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
