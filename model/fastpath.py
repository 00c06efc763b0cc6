"""The fast prediction path: the saved pipeline's arithmetic without its per-call overhead.

scikit-learn spends most of a one-ticket `predict_proba` on input validation, sparse-matrix
construction and dispatch between steps; the arithmetic (n-gram lookup and one dot product) is
a small part. `FastScorer` is built from a loaded pipeline at load time and computes the same
probabilities (to within 1e-9; `tests/model/test_fastpath.py` checks every shipped ticket and
fuzzed text) by looking n-grams up in the fitted vocabularies, applying the fitted idf,
normalisation, coefficients and temperature directly. Nothing is saved separately: a model
directory holds only the scikit-learn pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from model.text import clean_text

_WORD_CACHE_SIZE = 1 << 18  # distinct words whose character n-gram ids are remembered


def _count(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ids and how often each occurs (np.unique's result, with less overhead)."""
    if len(ids) == 0:
        return ids, np.empty(0, np.float64)
    ids = np.sort(ids)
    first = np.empty(len(ids), dtype=bool)
    first[0] = True
    np.not_equal(ids[1:], ids[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(len(starts), dtype=np.float64)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = len(ids) - starts[-1]
    return ids[starts], counts


class Counts(NamedTuple):
    """A text's known n-gram ids and counts, per block: (ids, counts) each."""

    word: tuple[np.ndarray, np.ndarray]
    char: tuple[np.ndarray, np.ndarray]


class UnsupportedPipeline(ValueError):
    """A pipeline whose configuration the fast path does not reproduce; use the pipeline itself."""


def _check_vectorizer(v: TfidfVectorizer, analyzer: str) -> None:
    expected = {
        "analyzer": analyzer, "lowercase": True, "preprocessor": None, "tokenizer": None, "stop_words": None,
        "strip_accents": None, "binary": False, "use_idf": True, "sublinear_tf": True, "norm": "l2",
    }
    wrong = {k: getattr(v, k) for k, want in expected.items() if getattr(v, k) != want}
    if wrong:
        raise UnsupportedPipeline(f"{analyzer} vectorizer settings not supported by the fast path: {wrong}")


class FastScorer:
    """Probabilities for raw ticket texts, equal to `pipeline.predict_proba`."""

    def __init__(self, pipeline: Pipeline):
        features = dict(pipeline.named_steps["features"].transformer_list)
        word: TfidfVectorizer = features["word"]
        char: TfidfVectorizer = features["char"]
        _check_vectorizer(word, "word")
        _check_vectorizer(char, "char_wb")
        classifier = pipeline.named_steps["classifier"]
        if getattr(classifier, "method", None) != "temperature" or len(classifier.calibrated_classifiers_) != 1:
            raise UnsupportedPipeline("the fast path needs one temperature-calibrated classifier (ensemble=False)")
        calibrated = classifier.calibrated_classifiers_[0]
        logistic = calibrated.estimator
        self.labels = [str(c) for c in pipeline.classes_]
        self.beta = float(calibrated.calibrators[0].beta_)
        coef = np.asarray(logistic.coef_, dtype=np.float64)
        self.binary = coef.shape[0] == 1
        self.intercept = np.asarray(logistic.intercept_, dtype=np.float64)
        n_word = len(word.vocabulary_)
        # Per feature: idf and idf * coefficient, so a ticket needs only its term frequencies.
        self.word_idf = word.idf_.astype(np.float64)
        self.char_idf = char.idf_.astype(np.float64)
        self.word_coef = (coef[:, :n_word]).T.copy()  # (n_word, k)
        self.char_coef = (coef[:, n_word:]).T.copy()  # (n_char, k)
        self.word_vocab: dict[str, int] = dict(word.vocabulary_)
        self.char_vocab: dict[str, int] = dict(char.vocabulary_)
        self.token_re = re.compile(word.token_pattern)
        self.word_ngrams = word.ngram_range
        self.char_ngrams = char.ngram_range
        self._char_ids = lru_cache(maxsize=_WORD_CACHE_SIZE)(self._char_ids_uncached)

    # --- features -----------------------------------------------------------------------
    def _word_counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        tokens = self.token_re.findall(text)
        lo, hi = self.word_ngrams
        grams: list[str] = list(tokens) if lo == 1 else []
        for n in range(max(lo, 2), hi + 1):
            grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        vocab = self.word_vocab
        return _count(np.array([vocab[g] for g in grams if g in vocab], dtype=np.intp))

    def _char_ids_uncached(self, word: str) -> np.ndarray:
        """Ids of the known character n-grams of one word, as scikit-learn's char_wb makes them."""
        w = f" {word} "
        length = len(w)
        grams: list[str] = []
        lo, hi = self.char_ngrams
        for n in range(lo, hi + 1):
            if n >= length:  # a word shorter than n counts once, whole
                grams.append(w)
                break
            grams += [w[i : i + n] for i in range(length - n + 1)]
        vocab = self.char_vocab
        return np.array([vocab[g] for g in grams if g in vocab], dtype=np.intp)

    def _char_counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        # str.split() already splits on runs of whitespace, as char_wb's own normalisation does.
        ids = np.concatenate([self._char_ids(w) for w in text.split()] or [np.empty(0, np.intp)])
        return _count(ids)

    @staticmethod
    def _block_scores(rows: list[tuple[np.ndarray, np.ndarray]], idf: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """One TF-IDF block's contribution to every row's decision scores: sublinear tf, idf,
        l2 normalisation and the dot product with the coefficients, for all rows at once."""
        scores = np.zeros((len(rows), coef.shape[1]))
        sizes = np.array([len(ids) for ids, _ in rows])
        filled = np.flatnonzero(sizes)
        if len(filled) == 0:
            return scores
        ids = np.concatenate([rows[i][0] for i in filled])
        tf = np.concatenate([rows[i][1] for i in filled])
        starts = np.concatenate([[0], np.cumsum(sizes[filled])[:-1]])
        values = (np.log(tf) + 1.0) * idf[ids]
        norms = np.sqrt(np.add.reduceat(values * values, starts))
        if coef.shape[1] == 1:  # binary: one column, kept one-dimensional (reduceat is much faster so)
            scores[filled, 0] = np.add.reduceat(values * coef[ids, 0], starts) / norms
        else:
            scores[filled] = np.add.reduceat(values[:, None] * coef[ids], starts, axis=0) / norms[:, None]
        return scores

    def counts_cleaned(self, cleaned: str) -> Counts:
        """The known n-grams of one cleaned text and how often each occurs."""
        lowered = cleaned.lower()
        return Counts(self._word_counts(lowered), self._char_counts(lowered))

    def proba_counts(self, counts: Sequence[Counts]) -> np.ndarray:
        """Calibrated probabilities for texts' n-gram counts, columns in `labels` order."""
        scores = (
            self._block_scores([c.word for c in counts], self.word_idf, self.word_coef)
            + self._block_scores([c.char for c in counts], self.char_idf, self.char_coef)
            + self.intercept
        )
        logits = np.hstack([-scores, scores]) if self.binary else scores
        return np.asarray(softmax(self.beta * logits, axis=1))

    def proba_cleaned(self, cleaned: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities for cleaned texts, columns in `labels` order."""
        return self.proba_counts([self.counts_cleaned(t) for t in cleaned])

    def feature_values(self, counts: Counts) -> tuple[np.ndarray, np.ndarray]:
        """Non-zero feature ids and TF-IDF values, as the pipeline's FeatureUnion would give
        them (word block first, then character block)."""
        parts = []
        for (ids, tf), idf, offset in ((counts.word, self.word_idf, 0), (counts.char, self.char_idf, len(self.word_idf))):
            values = (np.log(tf) + 1.0) * idf[ids]
            norm = np.sqrt(values @ values)
            parts.append((ids + offset, values / norm if norm > 0 else values))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def char_ids(self, word: str) -> np.ndarray:
        """Character-vocabulary ids of one word's known n-grams (cached)."""
        return np.asarray(self._char_ids(word))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities for raw ticket texts (cleaned here, as the pipeline does)."""
        return self.proba_cleaned([clean_text(t) for t in texts])
