"""Situations: which tickets describe the same kind of case, for cross-validation that holds
whole situations out.

Ordinary cross-validation scores a ticket with a model that has seen its near-siblings: tickets
of the same situation family, written alike. That is optimistic for the tickets that matter
most, ones about a situation the training data never described. Holding whole situations out
of each fold measures that case, and the thresholds and the calibration are chosen on it
(`model.train`).

A ticket's situation is its `scenario` tag when the data has one (`data/README.md` lists the
shipped data's tags). Untagged tickets (a helpdesk export, decided reviews) are grouped by topic
instead: k-means clusters of their word TF-IDF vectors, about `TICKETS_PER_TOPIC` tickets each,
so a held-out fold is a set of topics the model did not see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

TICKETS_PER_TOPIC = 40
MAX_TOPICS = 200


def situation_groups(scenarios: Sequence[str], word_counts: sp.csr_matrix, random_state: int = 0) -> np.ndarray:
    """One group name per ticket: its scenario tag, or `topic-<k>` from clustering the untagged ones."""
    groups = np.array([s.strip().lower() for s in scenarios], dtype=object)
    untagged = np.flatnonzero(groups == "")
    if len(untagged):
        groups[untagged] = [f"topic-{k}" for k in topic_clusters(word_counts[untagged], random_state)]
    return groups


def topic_clusters(word_counts: sp.csr_matrix, random_state: int = 0) -> np.ndarray:
    """Cluster numbers of tickets by the words they use (k-means on l2-normalised TF-IDF)."""
    n = word_counts.shape[0]
    k = int(np.clip(n // TICKETS_PER_TOPIC, 1, MAX_TOPICS))
    if k == 1:
        return np.zeros(n, dtype=int)
    x = TfidfTransformer(sublinear_tf=True).fit_transform(word_counts)
    kmeans = MiniBatchKMeans(n_clusters=k, random_state=random_state, n_init=3, batch_size=2048)
    return np.asarray(kmeans.fit_predict(x))


def held_out_situation_splits(y: np.ndarray, groups: np.ndarray, folds: int,
                              random_state: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep every situation whole, balanced by label as far as the situations allow.

    With fewer situations than folds no such split exists; the ordinary stratified one is used.
    """
    if len(set(groups)) < folds:
        return list(StratifiedKFold(folds, shuffle=True, random_state=random_state).split(y, y))
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros(len(y)), y, groups))
