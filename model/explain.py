"""Explanations: which terms of a ticket pushed it towards which label, and how hard.

For a linear model the push of a feature is its TF-IDF value times its coefficient. Character
n-gram pushes are handed to the words they occur in, so an explanation reads as words and word
pairs ("synken", "lägga till"), which an agent can find highlighted in the ticket.

A character n-gram's push is shared equally among its occurrences in the ticket, and each
whitespace-separated word gets the shares of the n-grams it holds (a word twice, twice). This
runs per request in the service: `explain_cleaned` has the fast path's compiled loops count the
ticket and share the pushes out word by word (`FastScorer.explanation_parts`), and only merges
words into terms and ranks them in Python. `explain` does the same from any ticket's features
(the pipeline's own, when there is no fast path) in a fixed handful of array operations. A
binary model's pushes towards its two labels are opposites, so only one is computed.
`tests/model/test_explain.py` checks both against the straightforward version.

What an agent reads is then made readable (`readable_terms`), without touching a probability:
common words ("vi", "vill", "to", "i": words in more than `COMMON_WORD_SHARE` of the training
tickets, judged by the model's own idf, so any language works) lead nowhere on their own, so a
common word that pushes the same way as the word beside it joins it as the phrase the model
itself knows (the word pair is a feature of the model pushing the same way): "lägga" + "till"
become "lägga till", "gick" + "ut" next to "certifikatet" become two phrases' worth of evidence.
Terms of common words only are left out, so content words and phrases lead.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from model.fastpath import FastScorer

_EDGE_PUNCT = re.compile(r"^\W+|\W+$")
DEFAULT_TOP_K = 6
# A word in more than this share of the training tickets is a common word: it joins phrases but
# is never a term of its own (idf = 1 + ln((1 + n) / (1 + df)) is at most 1 + ln(1 / share) then).
COMMON_WORD_SHARE = 0.05
_COMMON_IDF = 1.0 + float(np.log(1.0 / COMMON_WORD_SHARE))
_WORD_CACHE_SIZE = 65536  # distinct words whose term and n-gram ids are remembered


class Explainer:
    """Per-class term weights of one fitted pipeline."""

    def __init__(self, pipeline: Pipeline, fast: FastScorer | None = None):
        """With the pipeline's `fast` scorer, `explain_cleaned` counts through its compiled loops."""
        features = pipeline.named_steps["features"]
        word = dict(features.transformer_list)["word"]
        char = dict(features.transformer_list)["char"]
        self.n_word = len(word.vocabulary_)
        self.names = np.array([n.split("__", 1)[1] for n in features.get_feature_names_out()], dtype=object)
        self._names: list[str] = self.names.tolist()
        logistic = pipeline.named_steps["classifier"].calibrated_classifiers_[0].estimator
        coef = np.asarray(logistic.coef_)
        # The calibrated wrapper fits the regression on encoded labels 0..k-1, in pipeline.classes_ order.
        self.labels = [str(c) for c in pipeline.classes_]
        # Row c: how much each feature raises class c's score above the others.
        self.push = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef - coef.mean(axis=0)
        # The rows actually computed, and for each label the row and sign giving its push.
        if coef.shape[0] == 1:
            self._rows = [np.ascontiguousarray(self.push[1], dtype=np.float64)]
            self._row_of_label = [(0, -1.0), (0, 1.0)]
        else:
            self._rows = [np.ascontiguousarray(row, dtype=np.float64) for row in self.push]
            self._row_of_label = [(c, 1.0) for c in range(len(self.labels))]
        self.common_words = frozenset(
            term for term, i in word.vocabulary_.items() if " " not in term and word.idf_[i] <= _COMMON_IDF
        )
        self._char_vocab = char.vocabulary_
        self._char_analyzer = char.build_analyzer()
        self._word = lru_cache(maxsize=_WORD_CACHE_SIZE)(self._word_uncached)
        self._term = lru_cache(maxsize=_WORD_CACHE_SIZE)(_term_of)
        self.fast = fast
        # The character features' pushes, one column per computed row, as the compiled loops read them.
        self._char_push = np.ascontiguousarray(np.vstack(self._rows)[:, self.n_word :].T)
        self._scratch = threading.local()  # per thread: feature id -> position in the ticket's features

    def _ngram_ids(self, word: str) -> np.ndarray:
        vocab = self._char_vocab
        return np.array([vocab[g] for g in self._char_analyzer(word) if g in vocab], dtype=np.intp)

    def _word_uncached(self, word: str) -> tuple[str, np.ndarray]:
        """A lower-cased word's term (edge punctuation removed; may be empty) and its character
        n-gram feature ids, numbered as in the feature union (after the word features)."""
        return _term_of(word), self._ngram_ids(word) + self.n_word

    def _positions(self) -> np.ndarray:
        """This thread's map from feature id to 1 + its position among a ticket's features (0: absent)."""
        table: np.ndarray | None = getattr(self._scratch, "table", None)
        if table is None:
            table = self._scratch.table = np.zeros(len(self.names), dtype=np.intp)
        return table

    def explain(self, cleaned: str, idx: np.ndarray, val: np.ndarray, top_k: int = DEFAULT_TOP_K,
                readable: bool = True) -> list[dict[str, Any]]:
        """Top terms per label for one cleaned ticket, given its non-zero feature ids and values
        (word features first, sorted; then character features in any order).

        Returns `{"term", "label", "weight"}` entries, at most `top_k` per label (only terms that
        push towards it), sorted by weight, highest first.
        """
        idx = np.asarray(idx).astype(np.intp, copy=False)
        val = np.asarray(val, dtype=np.float64)
        n = len(idx)
        n_word_features = int(np.count_nonzero(idx < self.n_word))
        # Word n-gram features are distinct terms; character pushes are added to them below.
        names = self._names
        row_of_term = dict(zip([names[i] for i in idx[:n_word_features].tolist()], range(n_word_features)))
        # Per computed row, each feature's push; entry 0 stands for "not among the ticket's features".
        contrib = []
        for row in self._rows:
            c = np.empty(n + 1)
            c[0] = 0.0
            np.multiply(row[idx], val, out=c[1:])
            contrib.append(c)
        tokens = cleaned.lower().split()
        if tokens and n:
            entries = list(map(self._word, tokens))
            # Each word's term: a word feature of the same name, another word's term, or a new one.
            owners = [row_of_term.setdefault(term, len(row_of_term)) for term, _ in entries]
            positions = self._positions()
            positions[idx] = np.arange(1, n + 1)
            col = positions[np.concatenate([ids for _, ids in entries])]  # each n-gram occurrence's feature
            positions[idx] = 0
            # A character n-gram's push is shared among its occurrences.
            share = 1.0 / np.bincount(col, minlength=n + 1)[col]
            owner = np.repeat(np.asarray(owners, dtype=np.intp), [len(ids) for _, ids in entries])
            weights = []
            for c in contrib:
                # (as float: bincount of nothing gives integers)
                w = np.bincount(owner, weights=c[col] * share, minlength=len(row_of_term)).astype(np.float64, copy=False)
                w[:n_word_features] += c[1 : n_word_features + 1]
                weights.append(w)
        else:
            weights = [c[1 : n_word_features + 1] for c in contrib]
        return self._ranked(weights, row_of_term, [_term_of(t) for t in tokens], top_k, readable)

    def explain_cleaned(self, cleaned: str, top_k: int = DEFAULT_TOP_K, readable: bool = True) -> list[dict[str, Any]]:
        """`explain` of one cleaned ticket, its features counted by the fast scorer's compiled
        loops (which also share each character n-gram's push among the words holding it)."""
        if self.fast is None:
            raise ValueError("explain_cleaned needs the pipeline's FastScorer; use explain with the ticket's features")
        word_ids, word_values, pushes = self.fast.explanation_parts(cleaned, self._char_push)
        names = self._names
        # Word features are distinct terms; each word's term is one of them, or another word's, or new.
        row_of_term = dict(zip([names[i] for i in word_ids.tolist()], range(len(word_ids))))
        token_terms = list(map(self._term, cleaned.lower().split()))
        owners = [row_of_term.setdefault(term, len(row_of_term)) for term in token_terms]
        weights = []
        for r, row in enumerate(self._rows):
            w = np.bincount(owners, weights=pushes[:, r], minlength=len(row_of_term)).astype(np.float64, copy=False)
            w[: len(word_ids)] += row[word_ids] * word_values
            weights.append(w)
        return self._ranked(weights, row_of_term, token_terms, top_k, readable)

    def _ranked(self, weights: list[np.ndarray], row_of_term: dict[str, int], token_terms: list[str], top_k: int,
                readable: bool = True) -> list[dict[str, Any]]:
        """The `{"term", "label", "weight"}` entries: per label its `top_k` terms pushing towards
        it, all sorted by weight, highest first. `weights[r][row_of_term[t]]`: term t's push of
        computed row r; `token_terms`: the term of each word of the ticket, in order. With
        `readable`, the terms are `readable_terms` (phrases; no common words alone), else every term as computed."""
        empty = row_of_term.get("")
        if empty is not None:  # words of punctuation only hold n-grams but are no term
            for w in weights:
                w[empty] = 0.0
        terms = list(row_of_term)
        out: list[dict[str, Any]] = []
        for label, (r, sign) in zip(self.labels, self._row_of_label):
            pushes = weights[r] * sign
            if readable:
                ranked = _top(*readable_terms(pushes, terms, row_of_term, token_terms, self.common_words), top_k)
            else:
                ranked = _top(pushes, terms, top_k)
            out += [{"term": t, "label": label, "weight": round(w, 4)} for w, t in ranked]
        out.sort(key=lambda e: -e["weight"])
        return out


def readable_terms(pushes: np.ndarray, terms: list[str], row_of_term: dict[str, int], token_terms: list[str],
                   common: frozenset[str]) -> tuple[np.ndarray, list[str]]:
    """Terms an agent can use, with their pushes towards one label (the sum is unchanged but for
    what common words push alone).

    `pushes[i]` is term `terms[i]`'s push; `token_terms` the ticket's words in order. Each
    occurrence of a common word that pushes towards the label joins the neighbouring content word
    that does too, when the pair of them is a word feature of the model pushing that way as well
    (the strongest such pair wins): the occurrence's share of both words' pushes and of the
    pair's becomes the phrase's. What remains of terms made of common words only is dropped.
    """
    pushes = pushes.copy()
    occurrences: dict[int, int] = {}
    at = [row_of_term[t] for t in token_terms]
    for i in at:
        occurrences[i] = occurrences.get(i, 0) + 1
    pair_counts: dict[str, int] = {}
    for a, b in zip(token_terms, token_terms[1:]):
        pair_counts[f"{a} {b}"] = pair_counts.get(f"{a} {b}", 0) + 1
    share = [pushes[i] / occurrences[i] for i in at]  # each word occurrence's share of its term's push
    candidates = []  # (pair push, content position, common position, pair)
    for i, term in enumerate(token_terms):
        if not term or term in common or share[i] <= 0:
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(token_terms) and token_terms[j] in common and share[j] > 0:
                pair = f"{token_terms[min(i, j)]} {token_terms[max(i, j)]}"
                k = row_of_term.get(pair)
                if k is not None and pushes[k] > 0:
                    candidates.append((pushes[k] / pair_counts[pair], i, j, pair))
    phrases: dict[str, float] = {}
    joined: set[int] = set()
    for pair_share, i, j, pair in sorted(candidates, reverse=True):
        if i in joined or j in joined:
            continue
        joined.update((i, j))
        phrases[pair] = phrases.get(pair, 0.0) + share[i] + share[j] + pair_share
        pushes[at[i]] -= share[i]
        pushes[at[j]] -= share[j]
        pushes[row_of_term[pair]] -= pair_share
    keep = [k for k, t in enumerate(terms) if t and t not in phrases and not all(w in common for w in t.split())]
    return (np.concatenate([pushes[keep], np.fromiter(phrases.values(), float, len(phrases))]),
            [terms[k] for k in keep] + list(phrases))


def _term_of(word: str) -> str:
    """A lowercased word's term: the word without punctuation at its edges (may be empty)."""
    return _EDGE_PUNCT.sub("", word)


def _top(weights: np.ndarray, names: list[str], top_k: int) -> list[tuple[float, str]]:
    """The `top_k` positive weights with their terms, highest first (ties: the later term first)."""
    if top_k <= 0:
        return []
    positive = weights > 0
    if np.count_nonzero(positive) > top_k:
        # Every term at least as heavy as the k-th heaviest, ties included, for the exact sort below.
        kth = np.partition(weights, len(weights) - top_k)[len(weights) - top_k]
        positive = weights >= kth
    candidates = np.flatnonzero(positive)
    ranked = sorted(zip(weights[candidates].tolist(), [names[i] for i in candidates.tolist()]), reverse=True)
    return ranked[:top_k]
