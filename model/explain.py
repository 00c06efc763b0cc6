"""Explanations: which terms of a ticket pushed it towards which label, and how hard.

For a linear model the push of a feature is its TF-IDF value times its coefficient. Character
n-gram pushes are handed to the words they occur in, so an explanation reads as words and word
pairs ("synken", "lägga till"), which an agent can find highlighted in the ticket.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

_EDGE_PUNCT = re.compile(r"^\W+|\W+$")
DEFAULT_TOP_K = 6


class Explainer:
    """Per-class term weights of one fitted pipeline."""

    def __init__(self, pipeline: Pipeline, char_ids: Callable[[str], np.ndarray] | None = None):
        """`char_ids` (a word's character-vocabulary n-gram ids) may be shared with the fast path's cache."""
        features = pipeline.named_steps["features"]
        word = dict(features.transformer_list)["word"]
        char = dict(features.transformer_list)["char"]
        self.n_word = len(word.vocabulary_)
        self.names = np.array([n.split("__", 1)[1] for n in features.get_feature_names_out()], dtype=object)
        logistic = pipeline.named_steps["classifier"].calibrated_classifiers_[0].estimator
        coef = np.asarray(logistic.coef_)
        # The calibrated wrapper fits the regression on encoded labels 0..k-1, in pipeline.classes_ order.
        self.labels = [str(c) for c in pipeline.classes_]
        # Row c: how much each feature raises class c's score above the others.
        self.push = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef - coef.mean(axis=0)
        self._char_vocab = char.vocabulary_
        self._char_analyzer = char.build_analyzer()
        self._ngrams_of = char_ids or lru_cache(maxsize=65536)(self._ngram_ids)

    def _ngram_ids(self, word: str) -> np.ndarray:
        vocab = self._char_vocab
        return np.array([vocab[g] for g in self._char_analyzer(word) if g in vocab], dtype=np.intp)

    def explain(self, cleaned: str, idx: np.ndarray, val: np.ndarray, top_k: int = DEFAULT_TOP_K) -> list[dict[str, Any]]:
        """Top terms per label for one cleaned ticket, given its sorted non-zero feature ids and values."""
        n_labels = len(self.labels)
        contrib = self.push[:, idx] * val  # (labels, non-zero features)
        idx = idx.astype(np.intp, copy=False)
        n_word_features = int(np.searchsorted(idx, self.n_word))
        # Word n-gram features are distinct terms; character pushes are added to them below.
        terms: dict[str, list[float]] = dict(zip(self.names[idx[:n_word_features]].tolist(), contrib[:, :n_word_features].T.tolist()))
        # A character n-gram's push is shared among the words it occurs in (once per occurrence).
        tokens = cleaned.lower().split()
        if tokens and idx.size:
            per_token = [self._ngrams_of(t) for t in tokens]
            ids = np.concatenate(per_token) + self.n_word
            owner = np.repeat(np.arange(len(tokens)), [len(a) for a in per_token])
            col = np.minimum(np.searchsorted(idx, ids), len(idx) - 1)
            known = idx[col] == ids
            col, owner = col[known], owner[known]
            holders = np.bincount(col, minlength=len(idx))
            by_token = np.stack([
                np.bincount(owner, weights=contrib[c, col] / holders[col], minlength=len(tokens)) for c in range(n_labels)
            ]).T.tolist()
            for token, pushes in zip(tokens, by_token):
                term = _EDGE_PUNCT.sub("", token)
                if term:
                    _add(terms, term, pushes)
        out = []
        for c, label in enumerate(self.labels):
            ranked = sorted(((v[c], t) for t, v in terms.items() if v[c] > 0), reverse=True)[:top_k]
            out += [{"term": t, "label": label, "weight": round(w, 4)} for w, t in ranked]
        return sorted(out, key=lambda e: -e["weight"])


def _add(terms: dict[str, list[float]], term: str, pushes: list[float]) -> None:
    total = terms.get(term)
    if total is None:
        terms[term] = list(pushes)
    else:
        for c, p in enumerate(pushes):
            total[c] += p
