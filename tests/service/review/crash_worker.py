"""Subprocess of the crash test: queue and decide tickets in a loop, printing each acknowledged one.

Usage: python crash_worker.py DATABASE_URL. A line "<n> <item id> <label>" is printed only after
`decide` returned, i.e. after the decision was committed; the test kills this process with
SIGKILL at an arbitrary point and checks that every printed decision survived.
"""

from __future__ import annotations

import sys

from service.review.items import NewReviewItem
from service.review.store import ReviewStore

LABELS = ("support", "delivery")


def main(database_url: str) -> None:
    """Run until killed."""
    store = ReviewStore(database_url)
    print("ready", flush=True)
    n = 0
    while True:
        item = store.enqueue(
            NewReviewItem(
                ticket_id=f"crash-{n}",
                subject=f"Ärende {n}",
                body="Hej, eleverna syns inte i Google-synken sedan i morse.",
                model_label="support",
                confidence=0.55,
                probabilities={"support": 0.55, "delivery": 0.45},
                model_version="crash-test",
            )
        )
        label = LABELS[n % 2]
        decided = store.decide(item.id, label, "crash-worker", note=f"decision {n}")
        print(n, decided.id, label, flush=True)
        n += 1


if __name__ == "__main__":
    main(sys.argv[1])
