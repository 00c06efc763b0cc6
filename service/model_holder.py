"""The model in service, and how a new version replaces it without a restart.

A new version is loaded, verified (file hashes, trusted types, labels the next steps cover, a
probe prediction) and only then swapped in by one reference assignment. Each request reads
`holder.current` once, so requests in flight finish on the model they started with, and no
request ever sees a half-loaded model. A version that fails verification is refused and
logged; the old model keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from model.predictor import TriageModel
from model.registry import ModelError, current_version
from service.config import Settings
from service.metrics import Metrics
from service.next_steps import NextSteps

log = logging.getLogger("triage.model")
_PROBE = "Hej! Synken till Google har slutat fungera, kan ni lägga till en ny skola? / The sync stopped working."


class ModelRefused(Exception):
    """A model version that failed verification; the old one keeps serving."""


@dataclass(frozen=True)
class ReloadOutcome:
    """The versions before and after a reload."""

    previous_version: str
    version: str
    changed: bool


class ModelHolder:
    """Holds the current model; `--model DIR` pins one directory, otherwise the registry's CURRENT is served."""

    def __init__(self, settings: Settings, next_steps: NextSteps, metrics: Metrics):
        self.settings = settings
        self.next_steps = next_steps
        self.metrics = metrics
        self.pinned: Path | None = settings.model
        directory = self.source_dir()
        self.current: TriageModel = self.load(directory)
        self._served = directory.name  # the registry entry in service (normally its version)
        self._refused: str | None = None  # the registry entry last refused, not retried by the watcher
        self._reload_lock = threading.Lock()
        metrics.set_model(self.current.version, str(self.current.metadata.get("created", "")), self.current.labels)

    def target_precision(self, model: TriageModel) -> float | None:
        """The precision `model`'s thresholds were chosen for: `--target-precision` when set, else the model's own."""
        if self.settings.target_precision is not None:
            return self.settings.target_precision
        target = model.metadata.get("target_precision")
        return float(target) if isinstance(target, int | float) else None

    def source_dir(self) -> Path:
        """The directory that should be in service: the pinned one or the registry's current version."""
        if self.pinned is not None:
            return self.pinned
        version = current_version(self.settings.registry)
        if version is None:
            raise ModelError(f"registry {self.settings.registry} holds no model version")
        return self.settings.registry / version

    def load(self, directory: Path) -> TriageModel:
        """Load and fully verify a model directory with the thresholds the settings ask for."""
        try:
            model = TriageModel.load(directory, target_precision=self.settings.target_precision,
                                     thresholds=self.settings.thresholds or None)
            self.next_steps.check_covers(model.labels)
            model.predict([_PROBE], explain=True)  # the whole path works, and caches are warm
        except (ModelError, ValueError, OSError) as e:  # OSError: files removed while loading
            raise ModelRefused(str(e)) from None
        except Exception as e:  # anything else a bad model raises (IndexError, MemoryError, ...) refuses it too
            raise ModelRefused(f"{directory}: the model cannot serve ({type(e).__name__}: {str(e)[:300]})") from None
        return model

    def reload(self, force: bool = True) -> ReloadOutcome:
        """Serve the version the source names now; a refused version leaves the old one serving.

        `force=False` (the watcher) skips a version refused before, so a bad publish is logged
        once rather than at every poll.
        """
        with self._reload_lock:
            previous = self.current
            try:
                directory = self.source_dir()
            except ModelError as e:
                raise ModelRefused(str(e)) from None
            if not force and self.pinned is None and directory.name in (self._served, self._refused):
                return ReloadOutcome(previous.version, previous.version, changed=False)
            try:
                model = self.load(directory)
            except ModelRefused as e:
                self._refused = directory.name
                self.metrics.reloads.labels("refused").inc()
                log.error("model refused; the old one keeps serving",
                          extra={"fields": {"directory": str(directory), "reason": str(e), "serving": previous.version}})
                raise
            self._refused, self._served = None, directory.name
            if model.version == previous.version:
                self.metrics.reloads.labels("unchanged").inc()
                return ReloadOutcome(previous.version, previous.version, changed=False)
            self.current = model  # the swap: one reference assignment
            self.metrics.reloads.labels("swapped").inc()
            self.metrics.set_model(model.version, str(model.metadata.get("created", "")), model.labels)
            log.info("model swapped", extra={"fields": {"previous_version": previous.version, "version": model.version}})
            return ReloadOutcome(previous.version, model.version, changed=True)

    def changed_in_registry(self) -> bool:
        """Whether the registry's CURRENT names a version other than the served (or last refused) one."""
        if self.pinned is not None:
            return False
        version = current_version(self.settings.registry)
        return version is not None and version not in (self._served, self._refused)

    async def watch(self, interval: float) -> None:
        """Poll the registry's CURRENT every `interval` seconds and swap in a new version (background task).

        A registry that cannot be read (e.g. CURRENT deleted or naming no version) leaves the served
        model in service; the problem is logged when it appears or changes, not at every poll.
        """
        reported: str | None = None
        while True:
            await asyncio.sleep(interval)
            try:
                if await anyio.to_thread.run_sync(self.changed_in_registry):
                    await anyio.to_thread.run_sync(lambda: self.reload(force=False))
                reported = None
            except ModelRefused:
                pass  # logged by reload; the old model keeps serving
            except (OSError, ModelError) as e:
                if str(e) != reported:
                    log.error("registry check failed; the served model keeps serving",
                              extra={"fields": {"registry": str(self.settings.registry), "reason": str(e), "serving": self.current.version}})
                    reported = str(e)
            except Exception:  # a watcher that died would stop hot swaps unnoticed
                log.exception("registry check failed", extra={"fields": {"registry": str(self.settings.registry)}})
