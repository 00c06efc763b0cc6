"""Training data from a helpdesk: `triage import-freshdesk` / `triage import-zendesk`.

Every ticket updated since a date is read through the connector's `export` (Freshdesk's ticket
list in date windows, Zendesk's incremental export), its type mapped to a label, its text
redacted as the pipeline redacts, and written in the CLI's ticket format (`id, subject, body,
label`). Tickets whose type maps to no label are counted by type and reported, not written.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from model.redact import redact
from service.helpdesk.base import Connector
from service.helpdesk.settings import LABELS, ConnectorSettings

COLUMNS = ("id", "subject", "body", "label")
NO_TYPE = "(no type)"


@dataclass
class ImportSummary:
    """What an import wrote and what it left out."""

    path: Path
    per_label: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # by the ticket's type

    @property
    def written(self) -> int:
        return sum(self.per_label.values())

    def describe(self) -> str:
        """A short report for the terminal."""
        labels = ", ".join(f"{label} {n}" for label, n in sorted(self.per_label.items())) or "none"
        lines = [f"wrote {self.written} tickets to {self.path} ({labels})"]
        if self.skipped:
            kept = ", ".join(f"{kind} {n}" for kind, n in self.skipped.most_common())
            lines.append(f"left out {sum(self.skipped.values())} tickets whose type maps to no label: {kept}")
        return "\n".join(lines)


def parse_label_map(text: str) -> dict[str, str]:
    """`"Support=support,Leveransuppgift=delivery"` as {type: label}; ValueError says what to write."""
    mapping: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        kind, sep, label = part.partition("=")
        if not part or not sep or not kind.strip() or not label.strip():
            raise ValueError(f"--label-map: write TYPE=LABEL pairs separated by commas, e.g. 'Support=support,Leveransuppgift=delivery' (got {part!r})")
        if kind.strip() in mapping:
            raise ValueError(f"--label-map: the type {kind.strip()!r} is mapped twice")
        mapping[kind.strip()] = label.strip()
    return mapping


def default_label_map(section: ConnectorSettings) -> dict[str, str]:
    """The settings' type names, read back as labels: {types.support: "support", types.delivery: "delivery"}."""
    return {name: label for label in LABELS if (name := section.types.for_label(label))}


def import_tickets(connector: Connector, since: datetime, out: Path, label_map: dict[str, str], progress: bool | None = None) -> ImportSummary:
    """Write the labelled tickets updated since `since` to `out` (atomically); a progress bar shows on a terminal."""
    if not label_map:
        raise ValueError("no type maps to a label: give --label-map 'Support=support,Leveransuppgift=delivery' or set the types in the helpdesk settings")
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = ImportSummary(out)
    show = sys.stderr.isatty() if progress is None else progress
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle, \
                tqdm(desc=f"{connector.name} tickets", unit=" tickets", disable=not show, file=sys.stderr) as bar:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for ticket in connector.export(since):
                bar.update()
                label = label_map.get(ticket.type or "")
                if label is None:
                    summary.skipped[ticket.type or NO_TYPE] += 1
                    continue
                writer.writerow([f"{connector.name}:{ticket.id}", redact(ticket.subject), redact(ticket.text), label])
                summary.per_label[label] += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return summary
