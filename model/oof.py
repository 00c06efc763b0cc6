"""Out-of-fold predictions saved with a model (`oof_predictions.csv`).

They let thresholds be re-chosen for another target precision without retraining, and let the
notebook draw curves and find likely mislabelled tickets for the model in service.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

OOF_FILE = "oof_predictions.csv"


@dataclass
class OutOfFold:
    ids: list[str]
    y: np.ndarray
    languages: list[str]
    labels: list[str]
    proba: np.ndarray


def write_oof(directory: Path, ids: list[str], y: np.ndarray, languages: list[str], labels: list[str], proba: np.ndarray) -> None:
    frame = pd.DataFrame({"id": ids, "label": y, "language": languages})
    for i, lab in enumerate(labels):
        frame[f"p_{lab}"] = np.round(proba[:, i], 8)
    frame.to_csv(directory / OOF_FILE, index=False)


def read_oof(directory: Path) -> OutOfFold:
    return parse_oof((directory / OOF_FILE).read_bytes())


def parse_oof(data: bytes) -> OutOfFold:
    """Out-of-fold predictions from the bytes of an `oof_predictions.csv` (e.g. as verified against a model's metadata)."""
    frame = pd.read_csv(io.BytesIO(data), dtype={"id": str, "label": str, "language": str}, keep_default_na=False)
    prob_cols = [c for c in frame.columns if c.startswith("p_")]
    return OutOfFold(
        ids=frame["id"].tolist(), y=frame["label"].to_numpy(), languages=frame["language"].tolist(),
        labels=[c[2:] for c in prob_cols], proba=frame[prob_cols].to_numpy(dtype=float),
    )
