"""The model card: a README.md written into every model directory from its metadata."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _routing_section(meta: dict[str, Any]) -> list[str]:
    """What each target precision costs, and the training's warnings about it."""
    rows = meta.get("routing_by_target") or []
    if not rows:
        return []
    names = [k for k in rows[0] if k not in ("target", "thresholds")]
    lines = ["### What a target precision costs", "",
             "| target | " + " | ".join(f"{n}: auto-routed | precision" for n in names) + " |",
             "|---|" + "---|---|" * len(names)]
    for row in rows:
        cells = " | ".join(f"{_pct(row[n]['auto_routed_share'])} | {_pct(row[n]['auto_routed_precision'])}" for n in names)
        lines.append(f"| {row['target']:.2f} | {cells} |")
    lines.append("")
    lines += [f"**Warning:** {advice}" for advice in meta.get("advice", [])]
    return [*lines, ""] if meta.get("advice") else lines


def model_card(meta: dict[str, Any]) -> str:
    """Markdown describing what a model is for, what it was trained on and how well it does."""
    m = meta["metrics"]
    lines = [
        f"# Ticket-triage model {meta['version']}",
        "",
        f"Created {meta['created']}. Classifies helpdesk tickets (Swedish, English, mixed) into "
        f"{', '.join(f'`{lab}`' for lab in meta['labels'])}; a ticket whose most probable label does not "
        "clear that label's threshold is routed to `review` for a person to decide.",
        "",
        "## Model",
        "Text cleaning (HTML, quoted replies, signatures, markdown, personal data) -> TF-IDF over word 1-2 grams "
        f"and character 2-5 grams -> logistic regression (C={meta['params']['C']}, chosen by "
        f"{meta['params']['cv_folds']}-fold cross-validated log-loss) with temperature-scaled probabilities.",
        "",
        "## Thresholds",
        f"Chosen so that auto-routed tickets reach precision {meta['target_precision']}, on out-of-fold predictions in which "
        f"whole situations were held out of each fold ({meta['params'].get('situations', '?')} situations: scenario tags, "
        "or topic clusters of untagged tickets), so they hold for tickets unlike the training data:",
        "",
        "| label | threshold |",
        "|---|---|",
        *[f"| {lab} | {t:.3f} |" for lab, t in meta["thresholds"].items()],
        "",
        *_routing_section(meta),
        "## Data",
        f"{meta['data']['tickets']} tickets ({meta['data']['skipped_rows']} rows skipped) from:",
        *[f"- `{f['path']}` (sha256 {f['sha256'][:12]}...)" for f in meta["data"]["files"]],
        "",
        "Per label: " + ", ".join(f"{k} {v}" for k, v in meta["data"]["per_label"].items()) + ". "
        "Per language: " + ", ".join(f"{k} {v}" for k, v in meta["data"]["per_language"].items()) + ".",
        "",
        "## Metrics (out-of-fold cross-validation on the training data, situations held out)",
        f"Accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}; auto-routed {_pct(m['auto_routed_share'])} "
        f"of tickets at precision {_pct(m['auto_routed_precision'])}"
        + (f"; calibration error {m['calibration_error']:.3f}" if m.get("calibration_error") is not None else "") + ".",
        *([f"On familiar situations (ordinary out-of-fold): macro-F1 {f['macro_f1']:.3f}; auto-routed {_pct(f['auto_routed_share'])} "
           f"at precision {_pct(f['auto_routed_precision'])}."] if (f := meta.get("familiar_metrics")) else []),
        "",
        "| language | n | macro-F1 | auto-routed | precision (auto) |",
        "|---|---|---|---|---|",
        *[
            f"| {lang} | {s['n']} | {s['macro_f1']:.3f} | {_pct(s['auto_routed_share'])} | {_pct(s['auto_routed_precision'])} |"
            for lang, s in m.get("per_language", {}).items()
            if s.get("n")
        ],
        "",
        "## Limits",
        "- Cross-validated figures come from the same tickets the model was trained on (never from tickets it was fitted on, "
        "but from the same writers and period); expect lower figures on tickets of another helpdesk, system or season.",
        "- Words it has never seen carry no weight: a ticket about a system absent from the data leans on general phrasing.",
        "- The route `review` is part of the design: uncertain tickets go to a person, not to a guess.",
        "",
        "## Libraries",
        ", ".join(f"{k} {v}" for k, v in meta["libraries"].items()),
        "",
    ]
    return "\n".join(lines)
