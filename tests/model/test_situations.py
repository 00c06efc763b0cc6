"""Situations: scenario tags or topic clusters, and folds that hold whole situations out."""

import numpy as np
import scipy.sparse as sp

from model.situations import TICKETS_PER_TOPIC, held_out_situation_splits, situation_groups, topic_clusters


def _counts(rows: list[list[int]], width: int = 6) -> sp.csr_matrix:
    x = np.zeros((len(rows), width))
    for i, cols in enumerate(rows):
        x[i, cols] = 1
    return sp.csr_matrix(x)


def test_tagged_tickets_keep_their_tag_and_untagged_ones_get_topics() -> None:
    counts = _counts([[0, 1]] * 3 + [[4, 5]] * 2)
    groups = situation_groups(["New-School", "new-school", "", "vendor-cert", ""], counts)
    assert groups[0] == groups[1] == "new-school", "tags are compared case-insensitively"
    assert groups[3] == "vendor-cert"
    assert groups[2].startswith("topic-") and groups[4].startswith("topic-"), "untagged tickets are grouped by topic"


def test_topic_clusters_put_tickets_with_the_same_words_together() -> None:
    rng = np.random.default_rng(0)
    n = 4 * TICKETS_PER_TOPIC
    # Two vocabularies: tickets of one topic use columns 0-49, of the other 50-99.
    topic = np.repeat([0, 1], n // 2)
    rows = [list(rng.choice(50, 8, replace=False) + 50 * t) for t in topic]
    clusters = topic_clusters(_counts(rows, 100))
    assert len(set(clusters)) == n // TICKETS_PER_TOPIC, f"about {TICKETS_PER_TOPIC} tickets per topic"
    for c in set(clusters):
        assert len(set(topic[clusters == c])) == 1, "a cluster never mixes tickets of the two vocabularies"


def test_held_out_folds_keep_every_situation_whole_and_cover_every_ticket() -> None:
    groups = np.array([f"s{i % 17}" for i in range(340)])
    y = np.array(["support" if i % 17 < 9 else "delivery" for i in range(340)])
    splits = held_out_situation_splits(y, groups, 5)
    assert len(splits) == 5
    tested = np.concatenate([test for _, test in splits])
    assert sorted(tested.tolist()) == list(range(340)), "every ticket is held out exactly once"
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test]), "no situation is on both sides of a fold"
        assert set(y[train]) == {"support", "delivery"}, "each fold trains on both labels"


def test_too_few_situations_fall_back_to_ordinary_folds() -> None:
    y = np.array(["a", "b"] * 20)
    splits = held_out_situation_splits(y, np.array(["one", "two"] * 20), 5)
    assert len(splits) == 5 and sorted(np.concatenate([t for _, t in splits]).tolist()) == list(range(40))
