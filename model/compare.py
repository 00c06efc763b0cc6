"""A candidate model beside the model in service, on the same held-out tickets, with a verdict.

The verdict rule: publish when no model is in service; otherwise publish only when the
candidate's macro-F1 is not worse than the current model's by more than MACRO_F1_TOLERANCE and
the tickets it routes automatically are still correct at least `target_precision` of the time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.data import DataError, describe_names, sources_of
from model.decision import route
from model.evaluate import evaluation_report
from model.predictor import TriageModel
from model.registry import current_version, publish, save_model
from model.train import TrainResult

PUBLISH = "publish"
KEEP_CURRENT = "keep current"
# Macro-F1 on a few hundred held-out tickets moves by about a point between equally good models;
# a candidate within that of the current one is not worse, and brings the newer data.
MACRO_F1_TOLERANCE = 0.01
CANDIDATE = "candidate"
IN_SERVICE = "in service"


@dataclass(frozen=True)
class Verdict:
    """Whether to put the candidate into service, and why."""

    decision: str  # PUBLISH or KEEP_CURRENT
    reason: str

    @property
    def publish(self) -> bool:
        return self.decision == PUBLISH


@dataclass(frozen=True)
class Comparison:
    """Both models' evaluation reports on the same held-out tickets, and the verdict."""

    candidate_version: str
    candidate: dict[str, Any]
    current_version: str | None
    current: dict[str, Any] | None
    routes_differ: int | None  # held-out tickets the two models route differently
    verdict: Verdict

    def summary(self) -> str:
        """The verdict and its reason in one Markdown sentence."""
        differ = "" if self.routes_differ is None else f" The two models route {self.routes_differ} of the {self.candidate['n']} held-out tickets differently."
        return f"**Verdict: {self.verdict.decision}** ({self.verdict.reason}).{differ}"

    def table(self) -> pd.DataFrame:
        """Side-by-side figures: one row per metric, one column per model."""
        columns = {CANDIDATE: _column(self.candidate_version, self.candidate)}
        if self.current is not None and self.current_version is not None:
            columns[IN_SERVICE] = _column(self.current_version, self.current)
        return pd.DataFrame(columns)


def _column(version: str, report: dict[str, Any]) -> dict[str, Any]:
    auto = report["auto_routed_share"]
    column: dict[str, Any] = {
        "version": version, "tickets": report["n"], "accuracy": report["accuracy"], "macro-F1": report["macro_f1"],
        "log-loss": report.get("log_loss"), "auto-routed share": auto, "review share": 1.0 - auto,
        "auto-routed precision": report["auto_routed_precision"],
    }
    column.update({f"F1 {label}": s["f1"] for label, s in report["per_class"].items()})
    column.update({f"macro-F1 {lang}": s["macro_f1"] for lang, s in report.get("per_language", {}).items() if s.get("n")})
    return column


def load_current(registry: str | Path) -> TriageModel | None:
    """The registry's current model, as the service would load it; None for an empty registry."""
    version = current_version(registry)
    return None if version is None else TriageModel.load(Path(registry) / version)


def save_candidate(result: TrainResult, output_folder: str | Path, data_files: Sequence[str | Path]) -> Path:
    """Save a trained candidate as `output_folder/<version>` and return that directory."""
    folder = Path(output_folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".candidate-", dir=folder))
    meta = save_model(result, staging, data_files)
    target = folder / str(meta["version"])
    staging.chmod(0o755)  # mkdtemp makes it private; a model directory is read by the service's user too
    staging.rename(target)
    return target


def heldout_report(model: TriageModel, tickets: pd.DataFrame) -> dict[str, Any]:
    """The model's evaluation report on labelled tickets (from `load_tickets`) it never saw."""
    rows = _labelled(tickets)
    unknown = sorted(set(rows["label"]) - set(model.labels))
    if unknown:
        raise DataError(", ".join(sorted(set(rows["source"]))), f"labels model {model.version} does not know: {describe_names(unknown)}", column="label")
    proba = model.predict_proba(rows["text"].tolist())
    return evaluation_report(rows["label"].tolist(), proba, model.labels, model.thresholds, rows["language"].tolist())


def _labelled(tickets: pd.DataFrame) -> pd.DataFrame:
    rows = tickets[tickets["usable"].astype(bool) & (tickets["label"] != "")]
    if rows.empty:
        raise DataError(sources_of(tickets), "no labelled ticket with usable text to compare the models on")
    return rows


def decide(candidate: dict[str, Any], current: dict[str, Any] | None, target_precision: float,
           tolerance: float = MACRO_F1_TOLERANCE) -> Verdict:
    """The verdict rule (see the module docstring) on two held-out evaluation reports."""
    if current is None:
        return Verdict(PUBLISH, "no model in service: the candidate is better than none")
    f1_new, f1_old, precision = candidate["macro_f1"], current["macro_f1"], candidate["auto_routed_precision"]
    if f1_new < f1_old - tolerance:
        return Verdict(KEEP_CURRENT, f"candidate's macro-F1 {f1_new:.3f} is more than {tolerance:.3f} below the current model's {f1_old:.3f}")
    if precision is None:
        return Verdict(KEEP_CURRENT, "the candidate routes every held-out ticket to review")
    if precision < target_precision:
        return Verdict(KEEP_CURRENT, f"candidate's auto-routed precision {precision:.3f} is below the target {target_precision:.3f}")
    return Verdict(PUBLISH, f"candidate's macro-F1 {f1_new:.3f} against {f1_old:.3f} (tolerance {tolerance:.3f}) "
                            f"and auto-routed precision {precision:.3f} >= target {target_precision:.3f}")


def compare(candidate: TriageModel, current: TriageModel | None, tickets: pd.DataFrame, target_precision: float) -> Comparison:
    """Evaluate both models on the same held-out tickets and decide whether to publish the candidate."""
    new = heldout_report(candidate, tickets)
    old = None if current is None else heldout_report(current, tickets)
    differ = None
    if current is not None:
        texts = _labelled(tickets)["text"].tolist()
        differ = int(np.sum(np.asarray(_routes(candidate, texts)) != np.asarray(_routes(current, texts))))
    return Comparison(
        candidate_version=candidate.version, candidate=new,
        current_version=None if current is None else current.version, current=old,
        routes_differ=differ, verdict=decide(new, old, target_precision),
    )


def _routes(model: TriageModel, texts: list[str]) -> list[str]:
    routes, _, _ = route(model.predict_proba(texts), model.labels, model.thresholds)
    return routes


def publish_if_allowed(comparison: Comparison, candidate_dir: str | Path, registry: str | Path, force: bool = False) -> str:
    """Publish the candidate to the registry when the verdict allows it or `force` is set; says what happened."""
    if not (comparison.verdict.publish or force):
        return (f"Not published ({comparison.verdict.decision}: {comparison.verdict.reason}). "
                f"Set force_publish = True to publish anyway, or run `triage publish --model {candidate_dir} --registry {registry}`.")
    version = publish(candidate_dir, registry)
    forced = "" if comparison.verdict.publish else f" (forced against the verdict: {comparison.verdict.reason})"
    return (f"Published {version} to {registry}{forced}; it is now the current version. A running service watching this registry "
            f"switches to it within its watch interval. Undo with `triage rollback --registry {registry}`.")

