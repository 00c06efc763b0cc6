"""Mark the terms of a model explanation in the ticket text an agent reads.

The explanation names words and word pairs of the cleaned text ("synken", "lägga till"); they
are found again in the stored text case-insensitively, as whole words, with any whitespace
between the words of a pair. Where matches overlap, the term with the stronger push wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """A run of ticket text, either plain (`label` None) or a term pushing towards `label`."""

    text: str
    label: str | None = None
    weight: float = 0.0


def _pattern(term: str) -> re.Pattern[str] | None:
    words = term.split()
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


def highlight(text: str, explanation: Iterable[Mapping[str, object]]) -> list[Segment]:
    """Split `text` into plain segments and highlighted explanation terms, in order."""
    spans: list[tuple[int, int, str, float]] = []
    for entry in explanation:
        term, label, weight = str(entry.get("term", "")), str(entry.get("label", "")), entry.get("weight", 0.0)
        pattern = _pattern(term)
        if pattern is None or not label or not isinstance(weight, int | float):
            continue
        spans += [(m.start(), m.end(), label, float(weight)) for m in pattern.finditer(text)]
    chosen: list[tuple[int, int, str, float]] = []
    taken = [False] * len(text)
    for start, end, label, weight in sorted(spans, key=lambda s: (-s[3], s[0])):
        if not any(taken[start:end]):
            chosen.append((start, end, label, weight))
            taken[start:end] = [True] * (end - start)
    segments: list[Segment] = []
    position = 0
    for start, end, label, weight in sorted(chosen):
        if start > position:
            segments.append(Segment(text[position:start]))
        segments.append(Segment(text[start:end], label, weight))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments
