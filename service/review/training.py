"""Reviewers' decisions as training data: the CSV export and the model-agreement figures."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.review.items import ReviewItem

# model.data's ticket format, and `audit`, which training ignores like any column it does not know.
EXPORT_COLUMNS = ("id", "subject", "body", "language", "label", "difficulty", "note", "audit")
HARD, NORMAL = "hard", "normal"  # the shipped data's difficulty values


def export_difficulty(item: ReviewItem) -> str:
    """`hard` for a ticket the model was unsure about, or sure and wrong (an audit it failed);
    `normal` for an audit where it was sure and right."""
    return NORMAL if item.audit and item.model_agreed else HARD


@dataclass(frozen=True)
class Agreement:
    """How often reviewers agreed with the model.

    `agreement` is the share of all decisions equal to the model's label; `per_label_agreement`
    gives, for each label the reviewers chose, the share of those tickets the model had labelled
    the same. Shares are None/absent when nothing has been decided.
    """

    count: int
    per_label: dict[str, int]
    agreement: float | None
    per_label_agreement: dict[str, float]

    @classmethod
    def from_counts(cls, counts: Mapping[str, tuple[int, int]]) -> Agreement:
        """Build from {decided label: (decisions, decisions equal to the model's label)}."""
        total = sum(n for n, _ in counts.values())
        agreed = sum(a for _, a in counts.values())
        return cls(
            count=total,
            per_label={label: n for label, (n, _) in sorted(counts.items())},
            agreement=agreed / total if total else None,
            per_label_agreement={label: a / n for label, (n, a) in sorted(counts.items()) if n},
        )

    @classmethod
    def of_items(cls, items: Iterable[ReviewItem]) -> Agreement:
        """Agreement over decided items (undecided ones are ignored)."""
        counts: dict[str, tuple[int, int]] = {}
        for item in items:
            if item.decided_label is None:
                continue
            n, a = counts.get(item.decided_label, (0, 0))
            counts[item.decided_label] = (n + 1, a + (item.model_label == item.decided_label))
        return cls.from_counts(counts)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (/metrics)."""
        return {
            "count": self.count,
            "per_label": dict(self.per_label),
            "agreement": self.agreement,
            "per_label_agreement": dict(self.per_label_agreement),
        }


@dataclass(frozen=True)
class ExportSummary(Agreement):
    """What `export_training_file` wrote: the file, the agreement over its rows, and how many were blind audits."""

    path: Path
    audits: int = 0


def write_training_csv(items: Iterable[ReviewItem], path: Path) -> ExportSummary:
    """Write decided items as a labelled ticket CSV, atomically (readers never see half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    decided = [item for item in items if item.decided_label is not None]
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for item in decided:
                label, note, audit = item.decided_label, item.note or "", "true" if item.audit else "false"
                writer.writerow([item.ticket_id, item.subject, item.body, item.language, label, export_difficulty(item), note, audit])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return ExportSummary(**vars(Agreement.of_items(decided)), path=path, audits=sum(item.audit for item in decided))
