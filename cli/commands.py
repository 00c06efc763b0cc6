"""The work behind each `triage` subcommand (except serve), as plain functions."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import pandas as pd

from model.data import ColumnMap, DataError, describe_names, load_tickets
from model.evaluate import evaluation_report, format_report, format_routing_table, routing_at_targets
from model.oof import read_oof
from model.predictor import TriageModel
from model.registry import ModelError, check_new_model_dir, current_version, list_versions, read_metadata, save_model, sign_model
from model.registry import publish as publish_model
from model.registry import rollback as rollback_registry
from model.signature import key_file
from model.train import FAMILIAR, HELD_OUT
from model.train import train as train_model

ERROR_ROUTE = "error"


def check_output_file(path: Path, option: str, inputs: Sequence[Path] = (), replaced: bool = False) -> None:
    """Refuse, before any work, an output that is a folder or one of the inputs (it would be destroyed).
    An output `replaced` whole by a renamed temporary file must not be a device or a pipe either:
    the rename would replace the device's own entry (/dev/full, /dev/stdout) rather than write to it."""
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give the name of a file to write")
    if replaced and path.exists() and not path.is_file():
        raise ValueError(f"{option} {path} is not a regular file (a device or a pipe); give the name of a file to write")
    for source in inputs:
        if path.exists() and source.exists() and os.path.samefile(path, source):
            raise ValueError(f"{option} {path} is the input file {source}; write to another file (the input would be overwritten)")


def write_output(path: Path, write: Callable[[IO[str]], object]) -> None:
    """Write a file whole or not at all: into a temporary file beside it, then renamed over it, so a
    failed write (a full disk) leaves an earlier file of that name as it was. A path that is not a
    regular file (/dev/stdout, a pipe) is written directly."""
    try:
        if path.exists() and not path.is_file():
            with open(path, "w", encoding="utf-8", newline="") as f:
                write(f)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                write(f)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; an output is read like any file written
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:  # the message names the output, whichever file operation failed
        raise OSError(e.errno, e.strerror, str(path)) from None


def train(data: Sequence[str], out: Path, target_precision: float, columns: ColumnMap, encoding: str, as_json: bool) -> int:
    if not 0.5 <= target_precision < 1.0:
        raise ValueError(f"--target-precision must be at least 0.5 and below 1, got {target_precision}")
    check_new_model_dir(out)  # before a training that may take minutes, as is whether `out` can be written at all
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".triage-write-check-", dir=out.parent))
    except OSError as e:
        raise ValueError(f"--out {out}: cannot write in {out.parent} ({e.strerror or type(e).__name__})") from None
    tickets = load_tickets(data, columns, require_label=True, encoding=encoding)
    result = train_model(tickets, target_precision=target_precision)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    meta = save_model(result, out, data)
    if as_json:
        print(json.dumps({"version": meta["version"], "thresholds": meta["thresholds"], "params": meta["params"], "metrics": meta["metrics"],
                          "familiar_metrics": meta["familiar_metrics"], "routing_by_target": meta["routing_by_target"]}, indent=2))
    else:
        print(format_report(result.report, f"Cross-validated on {HELD_OUT} (what the thresholds and calibration are chosen on)"))
        print(format_report(result.familiar_report, f"Cross-validated on {FAMILIAR} (ordinary out-of-fold)"))
        print("What each target precision costs (thresholds chosen on held-out situations):")
        print(format_routing_table(result.routing))
        print("  thresholds: " + ", ".join(f"{k} {v:.3f}" for k, v in result.thresholds.items()) + f" (target precision {target_precision})")
        print(f"  C={result.params['C']} chosen by {result.params['cv_folds']}-fold CV; {result.params['situations']} situations held out by fold; "
              f"trained in {result.seconds:.1f} s")
        print(f"Model {meta['version']} written to {out}, signed with the registry key {key_file()}")
    for advice in result.advice:
        print(f"warning: {advice}", file=sys.stderr)
    return 0


def evaluate(model_dir: Path, data: Sequence[str], columns: ColumnMap, encoding: str, as_json: bool) -> int:
    model = TriageModel.load(model_dir)
    tickets = load_tickets(data, columns, require_label=True, encoding=encoding)
    rows = tickets[tickets["usable"] & (tickets["label"] != "")]
    if rows.empty:
        raise DataError(", ".join(data), "no labelled ticket with usable text to evaluate on")
    unknown = sorted(set(rows["label"]) - set(model.labels))
    if unknown:
        raise DataError(", ".join(data), f"labels the model does not know: {describe_names(unknown)} (model labels: {', '.join(model.labels)})",
                        column="label")
    proba = model.predict_proba(rows["text"].tolist())
    report = evaluation_report(rows["label"].tolist(), proba, model.labels, model.thresholds, rows["language"].tolist())
    report["model_version"] = model.version
    hard = (rows["difficulty"] == "hard").to_numpy()
    if hard.any():
        report["hard"] = evaluation_report(rows["label"].to_numpy()[hard], proba[hard], model.labels, model.thresholds)
    oof = read_oof(model_dir)
    evaluated = {", ".join(Path(d).name for d in data): (rows["label"].to_numpy(), proba)}
    report["routing_by_target"] = routing_at_targets(oof.proba, oof.y, oof.labels, evaluated)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report, f"Model {model.version} on {', '.join(data)}"))
        if "hard" in report:
            print(format_report(report["hard"], "  of them hard (difficulty=hard)"))
        print("What each target precision costs here (thresholds chosen on the model's held-out situations):")
        print(format_routing_table(report["routing_by_target"]))
    return 0


def predict(model_dir: Path, input_file: str, output: Path, columns: ColumnMap, encoding: str) -> int:
    check_output_file(output, "--output", inputs=[Path(input_file)])
    model = TriageModel.load(model_dir)
    tickets = load_tickets([input_file], columns, require_label=False, encoding=encoding)
    usable = tickets["usable"].to_numpy()
    result = pd.DataFrame({"id": tickets["id"], "route": ERROR_ROUTE, "label": "", "confidence": float("nan")})
    for lab in model.labels:
        result[f"p_{lab}"] = float("nan")
    result["message"] = ""
    result.loc[~usable, "message"] = "no usable text in subject/body"
    if usable.any():
        predictions = model.predict(tickets.loc[usable, "text"].tolist())
        result.loc[usable, "route"] = [p.route for p in predictions]
        result.loc[usable, "label"] = [p.label for p in predictions]
        result.loc[usable, "confidence"] = [round(p.confidence, 6) for p in predictions]
        for lab in model.labels:
            result.loc[usable, f"p_{lab}"] = [round(p.probabilities[lab], 6) for p in predictions]
    if output.suffix.lower() in (".jsonl", ".ndjson"):
        write_output(output, lambda f: result.to_json(f, orient="records", lines=True, force_ascii=False))
    else:
        write_output(output, lambda f: result.to_csv(f, index=False))
    counts = result["route"].value_counts()
    print(f"{len(result)} tickets -> {output}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if counts.get(ERROR_ROUTE, 0):
        print(f"warning: {counts[ERROR_ROUTE]} row(s) had no usable text (route={ERROR_ROUTE})", file=sys.stderr)
    return 0


def publish(model_dir: Path, registry: Path) -> int:
    version = publish_model(model_dir, registry)
    print(f"Published {version} to {registry}; it is now the current version")
    return 0


def sign(model_dirs: Sequence[Path]) -> int:
    for model_dir in model_dirs:
        version = sign_model(model_dir)
        print(f"Signed {model_dir} ({version}) with the registry key {key_file()}")
    return 0


def rollback(registry: Path, version: str | None) -> int:
    chosen = rollback_registry(registry, version)
    print(f"{registry}: current version is now {chosen}")
    return 0


def versions(registry: Path) -> int:
    names = list_versions(registry)
    if not names:
        print(f"{registry}: no model versions")
        return 0
    try:
        current: str | None = current_version(registry)
    except ModelError as e:
        current = None
        print(f"warning: {e}", file=sys.stderr)
    for name in names:
        mark = "*" if name == current else " "
        try:
            meta = read_metadata(registry / name)
        except ModelError as e:  # one bad version does not hide the others
            print(f"{mark} {name}  refused: {e}")
            continue
        m = meta.get("metrics", {})
        macro_f1 = m.get("macro_f1") if isinstance(m, dict) else None
        f1 = f"{macro_f1:.3f}" if isinstance(macro_f1, int | float) else "n/a"
        print(f"{mark} {name}  created {meta.get('created')}  macro-F1 {f1}  labels {','.join(meta['labels'])}")
    return 0


def export_reviews(database_url: str, out: Path) -> int:
    from service.review.export import export_reviews as export

    check_output_file(out, "--out", replaced=True)  # the export is renamed into place
    summary = export(database_url, out)
    agreement = "n/a" if summary.agreement is None else f"{summary.agreement:.1%}"
    print(f"{summary.count} decided reviews -> {out} (" + ", ".join(f"{k} {v}" for k, v in summary.per_label.items())
          + f"; {summary.audits} of them blind audits, marked in the 'audit' column)")
    print(f"agreement between the model's label and the agents' decisions: {agreement}"
          + "".join(f"; {k} {v:.1%}" for k, v in summary.per_label_agreement.items()))
    print(f"train with it: triage train --data data/tickets.csv --data {out} --out DIR")
    return 0


def purge_reviews(database_url: str, older_than_days: int) -> int:
    from service.review.export import purge_reviews as purge

    if older_than_days < 0:
        raise ValueError(f"--older-than-days must be 0 or more, got {older_than_days}")
    removed = purge(database_url, older_than_days)
    print(f"deleted {removed} review item(s) decided more than {older_than_days} days ago")
    return 0
