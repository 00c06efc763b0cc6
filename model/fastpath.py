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
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from model.ngrams import TOKEN_PATTERN, SplitTexts, split_texts, tokens_of_texts
from model.text import clean_text

_WORD_CACHE_SIZE = 1 << 18  # distinct words whose character n-gram ids are remembered
BATCH_FROM = 8  # from this many texts per call, n-grams are counted for the whole batch at once


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
        # Batches find tokens word by word and look bigrams up as token pairs (model.ngrams).
        self.batches = word.token_pattern == TOKEN_PATTERN and self.word_ngrams[1] <= 2
        self._index_word_vocabulary()
        self._token_ids = lru_cache(maxsize=_WORD_CACHE_SIZE)(self._token_ids_uncached)

    def _index_word_vocabulary(self) -> None:
        """Number every token of the word vocabulary, so that batches look unigrams up by token
        number and bigrams by a pair of token numbers coded as one integer."""
        tokens: dict[str, int] = {}
        unigrams: list[tuple[int, int]] = []
        bigrams: list[tuple[str, str, int]] = []
        for term, feature in self.word_vocab.items():
            parts = term.split(" ")
            for token in parts:
                tokens.setdefault(token, len(tokens))
            if len(parts) == 1:
                unigrams.append((tokens[term], feature))
            elif len(parts) == 2:
                bigrams.append((parts[0], parts[1], feature))
        self.token_index = tokens
        self.unigram_of_token = np.full(len(tokens), -1, dtype=np.int64)
        for number, feature in unigrams:
            self.unigram_of_token[number] = feature
        codes = np.array([tokens[a] * len(tokens) + tokens[b] for a, b, _ in bigrams], dtype=np.int64)
        order = np.argsort(codes)
        self.bigram_codes = codes[order]
        self.bigram_features = np.array([f for _, _, f in bigrams], dtype=np.int64)[order] if bigrams else np.empty(0, np.int64)

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

    def _token_ids_uncached(self, word: str) -> np.ndarray:
        """Token numbers of one whitespace-separated word (-1 for tokens outside the vocabulary)."""
        index = self.token_index
        return np.array([index.get(t, -1) for t in self.token_re.findall(word)], dtype=np.int64)

    def _char_counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        # str.split() already splits on runs of whitespace, as char_wb's own normalisation does.
        ids = np.concatenate([self._char_ids(w) for w in text.split()] or [np.empty(0, np.intp)])
        return _count(ids)

    @staticmethod
    def _block_scores(rows: list[tuple[np.ndarray, np.ndarray]], idf: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """One TF-IDF block's contribution to every row's decision scores: sublinear tf, idf,
        l2 normalisation and the dot product with the coefficients, for all rows at once."""
        if len(rows) == 1:  # one ticket: the same arithmetic without the batch bookkeeping
            ids, tf = rows[0]
            values = (np.log(tf) + 1.0) * idf[ids]
            norm = np.sqrt(values @ values)
            return (values @ coef[ids] / norm)[None, :] if norm > 0 else np.zeros((1, coef.shape[1]))
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
        return self._probabilities(
            self._block_scores([c.word for c in counts], self.word_idf, self.word_coef)
            + self._block_scores([c.char for c in counts], self.char_idf, self.char_coef)
        )

    def proba_cleaned(self, cleaned: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities for cleaned texts, columns in `labels` order."""
        if len(cleaned) < BATCH_FROM or not self.batches:
            return self.proba_counts([self.counts_cleaned(t) for t in cleaned])
        split = split_texts(cleaned)
        return self._probabilities(
            self._matrix_scores(self._batch_word_counts(split), self.word_idf, self.word_coef)
            + self._matrix_scores(self._batch_char_counts(split), self.char_idf, self.char_coef)
        )

    def _probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Temperature-scaled softmax of decision scores (without the intercept)."""
        scores = scores + self.intercept
        logits = self.beta * (np.hstack([-scores, scores]) if self.binary else scores)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))  # softmax, as scipy computes it
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    # A batch is counted as training counts (`model.ngrams`): each distinct word of the batch is
    # looked up once (through the caches), texts x words times words x n-grams gives the
    # character counts, and word bigrams are pairs of token numbers.

    def _batch_char_counts(self, split: SplitTexts) -> sp.csr_matrix:
        """Texts x character n-gram counts of a batch."""
        n_texts, n_words = len(split.starts) - 1, len(split.words)
        # A word twice in a text is two entries of its row: the product adds them up.
        by_word = sp.csr_matrix((np.ones(len(split.ids)), split.ids, split.starts), shape=(n_texts, n_words))
        grams = [self._char_ids(w) for w in split.words]
        indptr = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum([len(g) for g in grams], out=indptr[1:])
        grams_of_word = sp.csr_matrix(
            (np.ones(indptr[-1]), np.concatenate(grams) if grams else np.empty(0, np.intp), indptr),
            shape=(n_words, len(self.char_idf)),
        )
        return sp.csr_matrix(by_word @ grams_of_word)

    def _batch_word_counts(self, split: SplitTexts) -> sp.csr_matrix:
        """Texts x word n-gram counts of a batch."""
        n_texts, n_words = len(split.starts) - 1, len(split.words)
        # Every text's tokens: its words' tokens in order (unknown tokens stay, as -1, so that
        # they break the bigrams they are part of).
        tokens = [self._token_ids(w) for w in split.words]
        word_starts = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum([len(t) for t in tokens], out=word_starts[1:])
        flat, text_starts = tokens_of_texts(split, np.concatenate(tokens) if tokens else np.empty(0, np.int64), word_starts)
        token_text = np.repeat(np.arange(n_texts), np.diff(text_starts))
        rows, cols = [], []
        lo, hi = self.word_ngrams
        if lo == 1:
            known = flat >= 0
            features = self.unigram_of_token[flat[known]]
            rows.append(token_text[known][features >= 0])
            cols.append(features[features >= 0])
        if hi == 2 and len(flat) > 1 and len(self.bigram_codes):
            left, right = flat[:-1], flat[1:]
            pair = (token_text[:-1] == token_text[1:]) & (left >= 0) & (right >= 0)
            codes = left[pair] * len(self.token_index) + right[pair]
            at = np.minimum(np.searchsorted(self.bigram_codes, codes), len(self.bigram_codes) - 1)
            found = self.bigram_codes[at] == codes
            rows.append(token_text[:-1][pair][found])
            cols.append(self.bigram_features[at[found]])
        if not rows:
            return sp.csr_matrix((n_texts, len(self.word_idf)))
        # Converting from (row, column) pairs adds up repeated pairs into counts.
        entries = (np.concatenate(rows), np.concatenate(cols))
        return sp.csr_matrix((np.ones(len(entries[0])), entries), shape=(n_texts, len(self.word_idf)))

    @staticmethod
    def _matrix_scores(counts: sp.csr_matrix, idf: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """`_block_scores` for a texts x features count matrix (no repeated entries in a row;
        the column order within rows does not matter)."""
        values = sp.csr_matrix(((np.log(counts.data) + 1.0) * idf[counts.indices], counts.indices, counts.indptr), shape=counts.shape)
        row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(row, weights=values.data * values.data, minlength=counts.shape[0]))
        scores = np.asarray(values @ coef)
        filled = norms > 0
        scores[filled] /= norms[filled, None]
        return scores

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
