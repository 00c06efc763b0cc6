"""Explanations: which terms of a ticket pushed it towards which label, and how hard.

For a linear model the push of a feature is its TF-IDF value times its coefficient. Character
n-gram pushes are handed to the words they occur in, so an explanation reads as words and word
pairs ("synken", "lägga till"), which an agent can find highlighted in the ticket.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

_EDGE_PUNCT = re.compile(r"^\W+|\W+$")
DEFAULT_TOP_K = 6


class Explainer:
    """Per-class term weights of one fitted pipeline."""

    def __init__(self, pipeline: Pipeline):
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
        self._ngrams_of = lru_cache(maxsize=65536)(self._ngram_ids)

    def _ngram_ids(self, word: str) -> tuple[int, ...]:
        vocab = self._char_vocab
        return tuple(vocab[g] + self.n_word for g in self._char_analyzer(word) if g in vocab)

    def explain(self, cleaned: str, x: sp.spmatrix, top_k: int = DEFAULT_TOP_K) -> list[dict[str, Any]]:
        """Top terms per label for one cleaned ticket and its feature row, strongest first."""
        row = sp.csr_matrix(x)
        idx, val = row.indices, row.data
        contrib = self.push[:, idx] * val  # (labels, nonzero features)
        terms: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(self.labels)))
        position = {j: k for k, j in enumerate(idx)}
        for k, j in enumerate(idx):
            if j < self.n_word:
                terms[self.names[j]] += contrib[:, k]
        # A character n-gram's push is shared among the words it occurs in.
        holders: dict[int, list[str]] = defaultdict(list)
        for token in cleaned.lower().split():
            for j in self._ngrams_of(token):
                holders[j].append(token)
        for j, tokens in holders.items():
            k = position.get(j)
            if k is None:
                continue
            share = contrib[:, k] / len(tokens)
            for token in tokens:
                term = _EDGE_PUNCT.sub("", token)
                if term:
                    terms[term] += share
        out = []
        for c, label in enumerate(self.labels):
            ranked = sorted(((v[c], t) for t, v in terms.items() if v[c] > 0), reverse=True)[:top_k]
            out += [{"term": t, "label": label, "weight": round(float(w), 4)} for w, t in ranked]
        return sorted(out, key=lambda e: -e["weight"])
