"""Learning curve: how many labelled tickets per label the promise needs.

For each size, a stratified sample of that many tickets per label is drawn from the shipped
training data (three seeds), trained as `triage train` does, and measured on its own held-out
situations and on the independent set: the share routed automatically at the default target
precision, and the precision on those tickets. `docs/MODEL.md` quotes it, and
`model.evaluate.TICKETS_PER_LABEL_ENOUGH` is the smallest size routing most tickets.

Run: `python -m bench.learning_curve` (prints a Markdown table; a few minutes).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from model.data import load_tickets
from model.decision import DEFAULT_TARGET_PRECISION, route
from model.train import train
from tests.conftest import INDEPENDENT, TICKETS

SIZES = (25, 50, 100, 200, 400, 800)
SEEDS = (0, 1, 2)


def point(tickets: pd.DataFrame, independent: pd.DataFrame, per_label: int, seed: int) -> dict[str, float]:
    sample = tickets.groupby("label", group_keys=False).sample(n=per_label, random_state=seed)
    result = train(sample.reset_index(drop=True), target_precision=DEFAULT_TARGET_PRECISION)
    proba = result.pipeline.predict_proba(independent["text"].tolist())
    routes, _, _ = route(proba, result.labels, result.thresholds)
    auto = np.asarray(routes) != "review"
    y = independent["label"].to_numpy()
    return {
        "held_out_auto": result.report["auto_routed_share"],
        "held_out_precision": result.report["auto_routed_precision"] or float("nan"),
        "independent_auto": float(auto.mean()),
        "independent_precision": float((np.asarray(routes)[auto] == y[auto]).mean()) if auto.any() else float("nan"),
    }


def main() -> None:
    tickets = load_tickets([TICKETS])
    independent = load_tickets([INDEPENDENT])
    smallest = int(tickets["label"].value_counts().min())
    rows = []
    for size in [s for s in SIZES if s <= smallest] + [smallest]:
        points = pd.DataFrame([point(tickets, independent, size, seed) for seed in SEEDS])
        rows.append({"tickets per label": size, **points.median().round(3).to_dict()})
        print(rows[-1], file=sys.stderr)
    frame = pd.DataFrame(rows)
    print("| " + " | ".join(frame.columns) + " |")
    print("|" + "---|" * len(frame.columns))
    for row in frame.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
