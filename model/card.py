"""The model card: a README.md written into every model directory from its metadata."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


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
        f"Chosen on out-of-fold predictions so that auto-routed tickets reach precision {meta['target_precision']}:",
        "",
        "| label | threshold |",
        "|---|---|",
        *[f"| {lab} | {t:.3f} |" for lab, t in meta["thresholds"].items()],
        "",
        "## Data",
        f"{meta['data']['tickets']} tickets ({meta['data']['skipped_rows']} rows skipped) from:",
        *[f"- `{f['path']}` (sha256 {f['sha256'][:12]}...)" for f in meta["data"]["files"]],
        "",
        "Per label: " + ", ".join(f"{k} {v}" for k, v in meta["data"]["per_label"].items()) + ". "
        "Per language: " + ", ".join(f"{k} {v}" for k, v in meta["data"]["per_language"].items()) + ".",
        "",
        "## Metrics (out-of-fold cross-validation on the training data)",
        f"Accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}; auto-routed {_pct(m['auto_routed_share'])} "
        f"of tickets at precision {_pct(m['auto_routed_precision'])}.",
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
