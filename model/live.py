"""The model in service, offline and live: the precision its out-of-fold predictions promised at
its thresholds, beside the precision the agents' blind audits measure in service.

Out-of-fold predictions are scored on tickets like the training tickets, so the offline figure
tends to be optimistic; the live figure is measured on the tickets that actually arrive. The
live figures are read by `service.review.export.read_live_precision`, passed in as `read` (the
model package never imports the service).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from model.diagnostics import at_thresholds, precision_coverage
from model.oof import read_oof
from model.predictor import TriageModel
from model.sources import missing_sqlite_file

COLUMNS = ["label", "threshold", "offline_precision", "offline_coverage", "live_precision", "live_lower", "live_upper", "audits", "live_verdict"]


class LabelFigures(Protocol):
    """One label's live precision (service.review.live_precision.LabelPrecision has these)."""

    label: str
    audits: int
    correct: int
    precision: float | None
    lower: float | None
    upper: float | None

    def below(self, target: float | None) -> bool: ...


class LiveFigures(Protocol):
    """Live precision of one model version (service.review.live_precision.LivePrecision has these)."""

    window_days: int
    pending_audits: int

    @property
    def per_label(self) -> Mapping[str, LabelFigures]: ...


class LiveReader(Protocol):
    """service.review.export.read_live_precision"""

    def __call__(self, database_url: str, model_version: str, labels: Sequence[str], target: float | None, window_days: int) -> LiveFigures: ...


@dataclass(frozen=True)
class InService:
    """Per label of the model in service: offline and live precision, and a sentence saying what was found."""

    table: pd.DataFrame
    message: str


def offline_precision(model: TriageModel) -> pd.DataFrame:
    """Per label, the out-of-fold precision and coverage at the model's thresholds in force (label, threshold, coverage, precision)."""
    if model.directory is None:
        raise ValueError(f"model {model.version} was loaded without its directory, so its out-of-fold predictions cannot be read")
    oof = read_oof(model.directory)
    return at_thresholds(precision_coverage(oof.y, oof.proba, oof.labels), model.thresholds)


def _verdict(figures: LabelFigures, target: float) -> str:
    if figures.audits == 0:
        return "no audits yet"
    if figures.below(target):
        return f"below the target {target:.0%}"
    return "not shown below the target"


def in_service(read: LiveReader, database_url: str | None, model: TriageModel | None, target: float, window_days: int) -> InService:
    """Offline beside live precision per label of `model` (the model in service); without a model or a
    database, no rows and a sentence saying why."""
    if model is None:
        return InService(pd.DataFrame(columns=COLUMNS), "No model in service yet: nothing has been measured live.")
    offline = offline_precision(model).set_index("label")
    missing = None if not database_url else missing_sqlite_file(database_url)
    if not database_url or missing is not None:
        where = "No review database given" if not database_url else f"No review database at {missing} yet"
        table = offline.reset_index().rename(columns={"precision": "offline_precision", "coverage": "offline_coverage"}).reindex(columns=COLUMNS)
        return InService(table, f"{where}: only the offline estimate of model {model.version} is shown.")
    live = read(database_url, model.version, model.labels, target, window_days)
    rows = []
    for label in model.labels:
        figures = live.per_label[label]
        rows.append({
            "label": label, "threshold": offline.at[label, "threshold"], "offline_precision": offline.at[label, "precision"],
            "offline_coverage": offline.at[label, "coverage"], "live_precision": figures.precision, "live_lower": figures.lower,
            "live_upper": figures.upper, "audits": figures.audits, "live_verdict": _verdict(figures, target),
        })
    audits = sum(f.audits for f in live.per_label.values())
    message = (f"Model **{model.version}**: offline, its out-of-fold predictions at its thresholds; live, **{audits}** blind audits "
               f"decided in the last {live.window_days} days ({live.pending_audits} waiting for an agent), with 95% Wilson intervals.")
    return InService(pd.DataFrame(rows, columns=COLUMNS), message)
