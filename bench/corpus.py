"""Benchmark inputs made from the shipped tickets (for timing only, never for training a real model)."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TICKETS = ROOT / "data" / "tickets.csv"
_SEED = 20261126


def shipped() -> pd.DataFrame:
    return pd.read_csv(TICKETS, dtype=str, keep_default_na=False)


def texts_of_length(words: int, count: int = 200) -> list[str]:
    """Ticket texts of about `words` words: shipped tickets near that length, or several joined."""
    frame = shipped()
    texts = [f"{s}\n{b}" for s, b in zip(frame["subject"], frame["body"])]
    near = [t for t in texts if abs(len(t.split()) - words) <= words * 0.1]
    if len(near) >= count:
        return near[:count]
    rng = random.Random(_SEED)
    out: list[str] = []
    while len(out) < count:
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(rng.choice(texts))
        out.append(" ".join(" ".join(parts).split()[:words]))
    return out


def perturbed_corpus(size: int) -> pd.DataFrame:
    """`size` labelled tickets resampled from the shipped ones, each with a few word-level changes
    (dropped, swapped and doubled words, a random number), so that no two are identical."""
    frame = shipped()
    rng = random.Random(_SEED)
    rows = []
    for i in range(size):
        src = frame.iloc[rng.randrange(len(frame))]
        words = src["body"].split()
        for _ in range(max(1, len(words) // 15)):
            j = rng.randrange(len(words)) if words else 0
            op = rng.random()
            if words and op < 0.4:
                del words[j]
            elif words and op < 0.7 and j + 1 < len(words):
                words[j], words[j + 1] = words[j + 1], words[j]
            elif words:
                words.insert(j, words[j])
        words.append(str(rng.randrange(10_000)))
        rows.append({"id": f"B{i}", "subject": src["subject"], "body": " ".join(words), "language": src["language"], "label": src["label"]})
    return pd.DataFrame(rows)
