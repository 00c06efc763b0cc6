"""The helpdesk feature put together: its settings, connectors, job table, worker and the hook
that queues the write-back of every decision on a review item a helpdesk ticket became.

`check_helpdesk` runs before `triage serve` (and `triage helpdesk-worker`) starts: settings
that cannot work stop it with exit status 2 and the fix.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from prometheus_client import start_http_server

from model.predictor import TriageModel
from service.auth import KeyRing
from service.config import ConfigError, Settings
from service.db.errors import StoreError
from service.helpdesk.base import Connector, ConnectorProblem, HelpdeskError, HelpdeskRejected
from service.helpdesk.freshdesk import FreshdeskConnector
from service.helpdesk.jobs import JobStore, queue_decision
from service.helpdesk.metrics import HelpdeskMetrics
from service.helpdesk.settings import LABELS, HelpdeskSettings
from service.helpdesk.worker import Worker
from service.helpdesk.writeback import WriteBack
from service.helpdesk.zendesk import ZendeskConnector
from service.metrics import Metrics
from service.model_holder import ModelHolder, ModelRefused
from service.next_steps import NextSteps, load_next_steps
from service.review import ReviewHook, ReviewItem, open_review_hook

log = logging.getLogger("triage.helpdesk")


def make_connectors(settings: HelpdeskSettings, metrics: HelpdeskMetrics | None = None) -> dict[str, Connector]:
    """A connector per configured helpdesk."""
    timeout = settings.worker.timeout_seconds
    connectors: dict[str, Connector] = {}
    if settings.freshdesk is not None:
        connectors["freshdesk"] = FreshdeskConnector(settings.freshdesk, timeout, metrics)
    if settings.zendesk is not None:
        connectors["zendesk"] = ZendeskConnector(settings.zendesk, timeout, metrics)
    return connectors


def check_helpdesk(settings: HelpdeskSettings, keys: KeyRing, model_labels: Sequence[str] = LABELS) -> None:
    """Refuse settings that cannot work (ConfigError with the fix); a helpdesk that cannot be reached now only gets a warning."""
    if not settings.active:
        return
    unknown = sorted(set(model_labels) - set(LABELS))
    if unknown:
        raise ConfigError(f"the helpdesk connectors write back the labels {' and '.join(LABELS)}; the model also has {', '.join(unknown)}: "
                          "serve a model trained on those labels, or set TRIAGE_HELPDESK_MODE=off")
    if settings.freshdesk is not None and not keys.open and not any("webhook" in roles for _, roles in keys.entries):
        raise ConfigError("Freshdesk's webhook needs an API key with the role 'webhook' (and nothing else): add a line "
                          "'<key>:webhook' to the key file and put the key in the automation rule (docs/HELPDESK.md)")
    for name, connector in make_connectors(settings).items():
        section = getattr(settings, name)
        types = [t for t in (section.types.support, section.types.delivery) if t] if settings.mode == "act" else []
        groups = [g for g in (section.review_group_id, section.delivery_group_id) if g] if settings.mode == "act" else []
        try:
            connector.verify(types, groups)
        except ConnectorProblem as e:
            raise ConfigError(str(e)) from None
        except HelpdeskRejected as e:
            raise ConfigError(f"{name} refused the start-up check ({e.code}, HTTP {e.status}); check the {name} settings") from None
        except HelpdeskError as e:
            log.warning("helpdesk not reachable at start-up; jobs wait until it is", extra={"fields": {"helpdesk": name, "error_code": e.code}})
        finally:
            connector.close_client()


@dataclass
class Helpdesk:
    """The running feature: what the webhook endpoints, the admin endpoints and the worker share."""

    settings: HelpdeskSettings
    store: JobStore
    connectors: dict[str, Connector]
    metrics: HelpdeskMetrics
    worker: Worker
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, settings: HelpdeskSettings, database_url: str, metrics: Metrics, model: Callable[[], TriageModel], review: ReviewHook,
             next_steps: NextSteps, max_ticket_chars: int, retention_days: int) -> Helpdesk:
        """Connectors, job table (migrated) and worker (not started); decisions on review items are hooked up."""
        helpdesk_metrics = HelpdeskMetrics(metrics.registry)
        connectors = make_connectors(settings, helpdesk_metrics)
        store = JobStore(database_url)
        try:
            store.migrate()
        except StoreError as e:  # the database is down: start anyway (events get 503 and are sent again); the worker migrates later
            log.error("helpdesk job table unavailable at start-up", extra={"fields": {"reason": str(e)}})
        writeback = WriteBack(settings, connectors, model, review, next_steps, metrics, max_ticket_chars)
        worker = Worker(store, writeback, settings.worker, helpdesk_metrics, tuple(connectors), retention_days)
        feature = cls(settings, store, connectors, helpdesk_metrics, worker)
        if settings.mode != "off":
            review.store.on_decision(feature.queue_decision)
        return feature

    def start(self) -> None:
        """Start the worker thread (not in mode `off`)."""
        if self.settings.mode != "off":
            self.worker.start()

    def queue_decision(self, connection: sa.Connection, item: ReviewItem) -> None:
        """Inside the decision's transaction: queue its write-back when the item came from a helpdesk."""
        decision = {"label": item.decided_label, "reviewer": item.decided_by, "note": item.note, "model_label": item.model_label,
                    "confidence": item.confidence}
        if queue_decision(connection, item.ticket_id, decision, self.store.now()):
            self.worker.wake.set()

    def close(self) -> None:
        """Stop the worker and release connections."""
        if not self._closed:
            self._closed = True
            self.worker.stop()
            for connector in self.connectors.values():
                connector.close_client()
            self.store.close()


def check_worker_settings(helpdesk_settings: HelpdeskSettings) -> None:
    """ConfigError when the helpdesk settings leave a worker of its own nothing to do."""
    if not helpdesk_settings.configured:
        raise ConfigError("no helpdesk is configured: set TRIAGE_HELPDESK_FILE to a settings file with a [freshdesk] or [zendesk] section")
    if helpdesk_settings.mode == "off":
        raise ConfigError("the helpdesk mode is 'off': the worker would have nothing to do; set mode to suggest or act")


def run_worker_process(settings: Settings, helpdesk_settings: HelpdeskSettings, metrics_port: int | None = None) -> int:
    """`triage helpdesk-worker`: the worker without the HTTP service, until SIGTERM or SIGINT (settings
    checked by `check_worker_settings` first)."""
    metrics = Metrics()
    next_steps = load_next_steps(settings.next_steps_file)
    holder = ModelHolder(settings, next_steps, metrics)
    review = open_review_hook(settings, metrics, process="helpdesk-worker")
    review.start()
    feature = Helpdesk.open(helpdesk_settings, settings.database_url, metrics, lambda: holder.current, review, next_steps,
                            settings.max_ticket_chars, settings.retention_days)
    if metrics_port is not None:
        start_http_server(metrics_port, addr=settings.host, registry=metrics.registry)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    log.info("helpdesk worker started", extra={"fields": {"helpdesks": list(feature.connectors), "mode": helpdesk_settings.mode,
                                                          "model": holder.current.version}})
    feature.start()
    watching = settings.model is None and settings.watch_interval > 0
    last_watch = time.monotonic()
    while not stopping.wait(min(settings.review_retry_interval, settings.watch_interval or settings.review_retry_interval)):
        if not review.available:
            review.flush()
        if watching and time.monotonic() - last_watch >= settings.watch_interval:
            last_watch = time.monotonic()
            try:
                if holder.changed_in_registry():
                    holder.reload(force=False)
            except ModelRefused:
                pass  # logged by reload; the old model keeps serving
            except Exception:  # a failed check must not stop the worker
                log.exception("registry check failed")
    log.info("helpdesk worker stopping")
    feature.close()
    review.store.close()
    return 0
