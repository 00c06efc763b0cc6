"""The fast prediction path: the saved pipeline's arithmetic without its per-call overhead.

scikit-learn spends most of a one-ticket `predict_proba` on input validation, sparse-matrix
construction and dispatch between steps; the arithmetic (n-gram lookup and one dot product) is
a small part. `FastScorer` is built from a loaded pipeline at load time and computes the same
probabilities (to within 1e-9; `tests/model/test_fastpath.py` checks every shipped ticket and
fuzzed text) from the fitted vocabularies, idf, coefficients and temperature. Nothing is saved
separately: a model directory holds only the scikit-learn pipeline.

How: tickets reuse the same few thousand words, so every distinct word is analysed once, in
Python, into its character n-gram ids and its token numbers and kept in a `WordTable`. A ticket
is then a list of table rows, and a compiled loop (numba) counts its n-grams and applies
sublinear tf, idf, the (floored) l2 normalisation and the coefficients, with no Python objects
per n-gram.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from model.ngrams import TOKEN_PATTERN, char_wb_grams
from model.text import clean_text

_WORD_CACHE_SIZE = 1 << 18  # distinct words the word table remembers
# ... and about how many bytes they may take: a word's characters and dict entry, its n-gram ids and
# token numbers. The shipped tickets' 20,000 distinct words take about 7.4 MB; unique long words
# (an attack) would otherwise grow the table by megabytes per request. The arrays grow by
# doubling, so up to twice this is allocated.
_WORD_TABLE_BYTES = 32 << 20
_WORD_ENTRY_BYTES = 120  # a dict entry, a str object's header and the word's two start offsets


class UnsupportedPipeline(ValueError):
    """A pipeline whose configuration the fast path does not reproduce; use the pipeline itself."""


def _norm_floor(v: TfidfVectorizer) -> float:
    """The least norm a block of the vectorizer's values is divided by (see model.pipeline.TfidfFeatures)."""
    transformer = getattr(v, "_tfidf", None)
    return float(getattr(v, "norm_floor_", 0.0)) if transformer is not None and transformer.norm is None else 0.0


def _check_vectorizer(v: TfidfVectorizer, analyzer: str) -> None:
    expected = {
        "analyzer": analyzer, "lowercase": True, "preprocessor": None, "tokenizer": None, "stop_words": None,
        "strip_accents": None, "binary": False, "use_idf": True, "sublinear_tf": True, "norm": "l2",
    }
    wrong = {k: getattr(v, k) for k, want in expected.items() if getattr(v, k) != want}
    if wrong:
        raise UnsupportedPipeline(f"{analyzer} vectorizer settings not supported by the fast path: {wrong}")
    # Word tokens are found word by word and bigrams looked up as token pairs, which needs
    # tokens that never hold whitespace and n <= 2.
    if analyzer == "word" and (v.token_pattern != TOKEN_PATTERN or v.ngram_range[1] > 2):
        raise UnsupportedPipeline(f"word vectorizer needs token_pattern {TOKEN_PATTERN!r} and n-grams up to 2")


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
        self.n_word = len(word.vocabulary_)
        # Per feature, one row: its idf, then its coefficient for each score (one memory access
        # per feature in the compiled loop).
        self.word_weights = np.hstack([word.idf_[:, None], coef[:, : self.n_word].T]).astype(np.float64)
        self.char_weights = np.hstack([char.idf_[:, None], coef[:, self.n_word :].T]).astype(np.float64)
        # A block is divided by its l2 norm or by this floor, whichever is larger (model.pipeline.TfidfFeatures;
        # 0 for models saved before the floor, and for plain vectorizers, which normalise as usual).
        self.word_floor = _norm_floor(word)
        self.char_floor = _norm_floor(char)
        self.char_vocab: dict[str, int] = dict(char.vocabulary_)
        self.char_ngrams = char.ngram_range
        self.token_re = re.compile(word.token_pattern)
        self.unigrams, self.bigrams = word.ngram_range[0] == 1, word.ngram_range[1] == 2
        self._index_word_vocabulary(word.vocabulary_)
        self.table = WordTable(self)

    def _index_word_vocabulary(self, vocabulary: dict[str, int]) -> None:
        """Number every token of the word vocabulary, so that unigrams are looked up by token
        number and bigrams by a pair of token numbers coded as one integer (first * n + second)."""
        tokens: dict[str, int] = {}
        unigrams: list[tuple[int, int]] = []
        bigrams: list[tuple[str, str, int]] = []
        for term, feature in vocabulary.items():
            parts = term.split(" ")
            for token in parts:
                tokens.setdefault(token, len(tokens))
            if len(parts) == 1:
                unigrams.append((tokens[term], feature))
            else:
                bigrams.append((parts[0], parts[1], feature))
        self.token_index = tokens
        self.unigram_of_token = np.full(len(tokens), -1, dtype=np.int64)
        for number, feature in unigrams:
            self.unigram_of_token[number] = feature
        codes = np.array([tokens[a] * len(tokens) + tokens[b] for a, b, _ in bigrams], dtype=np.int64)
        order = np.argsort(codes)
        self.bigram_codes = codes[order]
        self.bigram_features = np.array([f for _, _, f in bigrams], dtype=np.int64)[order] if bigrams else np.empty(0, np.int64)
        # The bigrams whose first token is token i: bigram_codes[bigram_starts[i]:bigram_starts[i + 1]].
        self.bigram_starts = np.searchsorted(self.bigram_codes, np.arange(len(tokens) + 1, dtype=np.int64) * len(tokens))

    # --- one word -----------------------------------------------------------------------
    def char_ids(self, word: str) -> np.ndarray:
        """Ids of the known character n-grams of one lowercased word, as char_wb makes them."""
        vocab = self.char_vocab
        return np.array([vocab[g] for g in char_wb_grams(word, self.char_ngrams) if g in vocab], dtype=np.intp)

    def token_ids(self, word: str) -> np.ndarray:
        """Token numbers of one lowercased whitespace-separated word (-1: a token in no word feature)."""
        index = self.token_index
        return np.array([index.get(t, -1) for t in self.token_re.findall(word)], dtype=np.int64)

    # --- texts --------------------------------------------------------------------------
    def proba_cleaned(self, cleaned: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities for cleaned texts, columns in `labels` order."""
        return self._probabilities(self.table.scores(cleaned))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities for raw ticket texts (cleaned here, as the pipeline does)."""
        return self.proba_cleaned([clean_text(t) for t in texts])

    def feature_values(self, cleaned: str) -> tuple[np.ndarray, np.ndarray]:
        """One cleaned text's non-zero feature ids and TF-IDF values, as the pipeline's
        FeatureUnion gives them: the word block first, sorted, then the character block in no
        particular order (sorting its hundreds of ids would cost more than the rest together)."""
        return self.table.feature_values(cleaned)

    def explanation_parts(self, cleaned: str, char_push: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What an explanation of one cleaned text is made of: its word features (sorted ids and
        TF-IDF values), and for each of its whitespace-separated words (in order) the pushes of
        the character n-grams it holds, each n-gram's push (`char_push[g]` times its TF-IDF
        value) shared equally among the n-gram's occurrences in the text. `char_push` has one
        row per character feature and one column per push computed."""
        return self.table.explanation_parts(cleaned, char_push)

    def _probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Temperature-scaled softmax of decision scores (without the intercept)."""
        scores = scores + self.intercept
        logits = self.beta * (np.hstack([-scores, scores]) if self.binary else scores)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))  # softmax, as scipy computes it
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))


class WordTable:
    """Every distinct word the scorer has met, numbered, with its character n-gram ids and token
    numbers in flat arrays that the compiled loops read.

    A text's words are looked up here (one dict lookup per word); a new word is analysed once,
    in Python, and appended. The table holds at most `_WORD_CACHE_SIZE` words and about
    `_WORD_TABLE_BYTES` (or one call's words, if more) and starts afresh when full; starting
    afresh changes no probability, only the time the next calls take. Lookups and appends happen under a lock; the
    compiled loops read a snapshot of the arrays, which are only appended to or replaced, so
    they run outside the lock (and release the GIL).
    """

    def __init__(self, scorer: FastScorer):
        self.scorer = scorer
        self._lock = threading.Lock()
        self._scratch = threading.local()  # per thread: the count arrays the compiled loops work in
        self._reset()
        # Compile the loops a served prediction runs (or load numba's cache) at load time, not on a
        # first request; a char_push of one column has the type of any other.
        self.scores(["warm up the compiled loops"])
        self.explanation_parts("warm up", np.zeros((len(scorer.char_weights), 1)))

    def _reset(self) -> None:
        self.rows: dict[str, int] = {}
        self.bytes = 0  # what the words take, as `_WORD_TABLE_BYTES` counts it
        self.gram_starts = np.zeros(1024, dtype=np.int64)  # word i's n-grams: grams[gram_starts[i]:gram_starts[i + 1]]
        self.grams = np.empty(16384, dtype=np.int32)
        self.token_starts = np.zeros(1024, dtype=np.int64)  # word i's tokens, likewise
        self.tokens = np.empty(2048, dtype=np.int64)

    def _analyse(self, words: list[str]) -> tuple[list[np.ndarray], list[np.ndarray], int]:
        """New words' character n-gram ids and token numbers, and the bytes they will take."""
        grams = [self.scorer.char_ids(w) for w in words]
        tokens = [self.scorer.token_ids(w) for w in words]
        size = sum(map(len, words)) + _WORD_ENTRY_BYTES * len(words) + sum(g.nbytes for g in grams) + sum(t.nbytes for t in tokens)
        return grams, tokens, size

    def _add(self, words: list[str], grams: list[np.ndarray], tokens: list[np.ndarray], size: int) -> None:
        """Append new words' character n-gram ids and token numbers."""
        n = len(self.rows)
        self.gram_starts = _grow(self.gram_starts, n + len(words) + 1)
        self.token_starts = _grow(self.token_starts, n + len(words) + 1)
        self.grams = _append(self.grams, self.gram_starts, n, grams)
        self.tokens = _append(self.tokens, self.token_starts, n, tokens)
        for w in words:
            self.rows[w] = len(self.rows)
        self.bytes += size

    def _lookup(self, cleaned: Sequence[str]) -> tuple[np.ndarray, np.ndarray, tuple[Any, ...]]:
        """Texts as table rows: every text's words' rows one after another, where each text
        starts (one more entry than texts), and the table arrays the rows refer to."""
        words: list[str] = []
        starts = np.zeros(len(cleaned) + 1, dtype=np.int64)
        for i, text in enumerate(cleaned):
            # Lowercased whole, then split on whitespace, as both vectorizers do.
            words += text.lower().split()
            starts[i + 1] = len(words)
        with self._lock:
            try:  # nearly always every word is known: one pass
                ids = np.fromiter(map(self.rows.__getitem__, words), dtype=np.int64, count=len(words))
            except KeyError:
                new = [w for w in dict.fromkeys(words) if w not in self.rows]
                grams, tokens, size = self._analyse(new)
                if len(self.rows) + len(new) > _WORD_CACHE_SIZE or self.bytes + size > _WORD_TABLE_BYTES:
                    self._reset()
                    new = list(dict.fromkeys(words))
                    grams, tokens, size = self._analyse(new)
                self._add(new, grams, tokens, size)
                ids = np.fromiter(map(self.rows.__getitem__, words), dtype=np.int64, count=len(words))
            return ids, starts, (self.gram_starts, self.grams, self.token_starts, self.tokens)

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's zeroed count arrays, one per vocabulary."""
        counts: tuple[np.ndarray, np.ndarray] | None = getattr(self._scratch, "counts", None)
        if counts is None:
            s = self.scorer
            counts = self._scratch.counts = (np.zeros(len(s.char_weights), np.int32), np.zeros(len(s.word_weights), np.int32))
        return counts

    def _word_lookup(self) -> tuple[Any, ...]:
        """The word vocabulary's lookup arrays, as the compiled loops take them."""
        s = self.scorer
        return (s.unigram_of_token, s.bigram_starts, s.bigram_codes, s.bigram_features, len(s.token_index), s.unigrams, s.bigrams)

    def scores(self, cleaned: Sequence[str]) -> np.ndarray:
        """Decision scores (without the intercept) of cleaned texts, one row per text."""
        ids, starts, arrays = self._lookup(cleaned)
        char_counts, word_counts = self._counts()
        s = self.scorer
        return _scores(ids, starts, *arrays, s.char_weights, s.word_weights, s.char_floor, s.word_floor, *self._word_lookup(),
                       char_counts, word_counts)

    def feature_values(self, cleaned: str) -> tuple[np.ndarray, np.ndarray]:
        """One cleaned text's non-zero feature ids and TF-IDF values (see `FastScorer.feature_values`)."""
        ids, _, arrays = self._lookup([cleaned])
        char_counts, word_counts = self._counts()
        s = self.scorer
        word_ids, word_values, char_ids, char_values = _feature_values(
            ids, *arrays, s.char_weights, s.word_weights, s.char_floor, s.word_floor, *self._word_lookup(), char_counts, word_counts)
        return np.concatenate([word_ids, char_ids + self.scorer.n_word]), np.concatenate([word_values, char_values])

    def explanation_parts(self, cleaned: str, char_push: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """See `FastScorer.explanation_parts`."""
        ids, _, arrays = self._lookup([cleaned])
        char_counts, word_counts = self._counts()
        s = self.scorer
        return _explanation_parts(ids, *arrays, s.char_weights, s.word_weights, s.char_floor, s.word_floor, *self._word_lookup(),
                                  char_counts, word_counts, char_push)


def _grow(array: np.ndarray, size: int) -> np.ndarray:
    """`array`, or a longer copy (at least twice as long) with room for `size` entries."""
    if size <= len(array):
        return array
    grown = np.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _append(flat: np.ndarray, starts: np.ndarray, n: int, parts: list[np.ndarray]) -> np.ndarray:
    """Append `parts` (one array per new word) to `flat` after word `n - 1`, filling `starts`."""
    ends = starts[n] + np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)))
    flat = _grow(flat, int(ends[-1]))
    if ends[-1] > starts[n]:
        flat[starts[n] : ends[-1]] = np.concatenate(parts)
    starts[n + 1 : n + 1 + len(parts)] = ends
    return flat


# --- the compiled loops ---------------------------------------------------------------------

# 1 + log(count) of the small counts nearly every n-gram has: a table read costs less than a log.
_SUBLINEAR_TF = np.concatenate([[0.0], np.log(np.arange(1, 256, dtype=np.float64)) + 1.0])


@numba.njit(cache=True, nogil=True)
def _tf(count: int) -> float:
    """Sublinear term frequency, 1 + log(count), of a count of at least 1."""
    return _SUBLINEAR_TF[count] if count < len(_SUBLINEAR_TF) else np.log(count) + 1.0


@numba.njit(cache=True, nogil=True)
def _count_char_grams(words: np.ndarray, gram_starts: np.ndarray, grams: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Count the character n-grams of one text's words (table rows) in `counts`; returns the
    distinct n-grams found."""
    total = 0
    for w in words:
        total += gram_starts[w + 1] - gram_starts[w]
    found = np.empty(total, dtype=np.int64)
    n_found = 0
    for w in words:
        for q in range(gram_starts[w], gram_starts[w + 1]):
            g = grams[q]
            found[n_found] = g  # kept only if new to the text: no branch to mispredict
            n_found += counts[g] == 0
            counts[g] += 1
    return found[:n_found]


@numba.njit(cache=True, nogil=True)
def _count_word_grams(words: np.ndarray, token_starts: np.ndarray, tokens: np.ndarray, unigram_of_token: np.ndarray,
                      bigram_starts: np.ndarray, bigram_codes: np.ndarray, bigram_features: np.ndarray, n_tokens: int,
                      unigrams: bool, bigrams: bool, counts: np.ndarray) -> np.ndarray:
    """Count the word unigrams and bigrams of one text's words (table rows) in `counts`; returns
    the distinct features found. The text's tokens are its words' tokens in order; a token in no
    feature (-1) breaks the bigrams it is part of."""
    total = 0
    for w in words:
        total += 2 * (token_starts[w + 1] - token_starts[w])
    found = np.empty(total, dtype=np.int64)
    n_found = 0
    previous = -1
    for w in words:
        for q in range(token_starts[w], token_starts[w + 1]):
            token = tokens[q]
            if unigrams and token >= 0 and unigram_of_token[token] >= 0:
                feature = unigram_of_token[token]
                found[n_found] = feature
                n_found += counts[feature] == 0
                counts[feature] += 1
            if bigrams and token >= 0 and previous >= 0:
                # Binary search among the (few) bigrams that start with the previous token.
                code = previous * n_tokens + token
                lo, hi = bigram_starts[previous], bigram_starts[previous + 1]
                end = hi
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if bigram_codes[mid] < code:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < end and bigram_codes[lo] == code:
                    feature = bigram_features[lo]
                    found[n_found] = feature
                    n_found += counts[feature] == 0
                    counts[feature] += 1
            previous = token
    return found[:n_found]


@numba.njit(cache=True, nogil=True)
def _tfidf(found: np.ndarray, counts: np.ndarray, weights: np.ndarray, floor: float) -> tuple[np.ndarray, float]:
    """Sublinear tf times idf of the counted features (`weights[:, 0]` is the idf), and what they
    are divided by: their l2 norm, or `floor` if that is larger (0 for no values). The counts are
    set back to zero."""
    values = np.empty(len(found))
    norm2 = 0.0
    for i in range(len(found)):
        f = found[i]
        count = counts[f]
        counts[f] = 0
        values[i] = _tf(count) * weights[f, 0]
        norm2 += values[i] * values[i]
    norm = np.sqrt(norm2)
    return values, (max(norm, floor) if norm > 0.0 else 0.0)


@numba.njit(cache=True, nogil=True)
def _add_scores(found: np.ndarray, counts: np.ndarray, weights: np.ndarray, floor: float, out: np.ndarray) -> None:
    """Add one TF-IDF block's contribution to a text's scores: its normalised values times the
    coefficients (`weights[:, 1:]`)."""
    values, norm = _tfidf(found, counts, weights, floor)
    if norm > 0.0:
        for c in range(len(out)):
            dot = 0.0
            for i in range(len(found)):
                dot += values[i] * weights[found[i], c + 1]
            out[c] += dot / norm


@numba.njit(cache=True, nogil=True)
def _scores(words: np.ndarray, starts: np.ndarray, gram_starts: np.ndarray, grams: np.ndarray, token_starts: np.ndarray,
            tokens: np.ndarray, char_weights: np.ndarray, word_weights: np.ndarray, char_floor: float, word_floor: float,
            unigram_of_token: np.ndarray, bigram_starts: np.ndarray, bigram_codes: np.ndarray, bigram_features: np.ndarray,
            n_tokens: int, unigrams: bool, bigrams: bool, char_counts: np.ndarray, word_counts: np.ndarray) -> np.ndarray:
    """Decision scores (without the intercept) of texts given as table rows: text t's words are
    `words[starts[t]:starts[t + 1]]`. `char_counts`/`word_counts` are zeroed scratch arrays of
    the vocabularies' sizes, left zeroed."""
    scores = np.zeros((len(starts) - 1, char_weights.shape[1] - 1))
    for t in range(len(starts) - 1):
        text = words[starts[t] : starts[t + 1]]
        found = _count_char_grams(text, gram_starts, grams, char_counts)
        _add_scores(found, char_counts, char_weights, char_floor, scores[t])
        found = _count_word_grams(text, token_starts, tokens, unigram_of_token, bigram_starts, bigram_codes, bigram_features,
                                  n_tokens, unigrams, bigrams, word_counts)
        _add_scores(found, word_counts, word_weights, word_floor, scores[t])
    return scores


@numba.njit(cache=True, nogil=True)
def _word_features(words: np.ndarray, token_starts: np.ndarray, tokens: np.ndarray, word_weights: np.ndarray,
                   word_floor: float, unigram_of_token: np.ndarray, bigram_starts: np.ndarray, bigram_codes: np.ndarray, bigram_features: np.ndarray,
                   n_tokens: int, unigrams: bool, bigrams: bool, word_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One text's word features: sorted ids and normalised TF-IDF values."""
    ids = np.sort(_count_word_grams(words, token_starts, tokens, unigram_of_token, bigram_starts, bigram_codes, bigram_features,
                                    n_tokens, unigrams, bigrams, word_counts))
    values, norm = _tfidf(ids, word_counts, word_weights, word_floor)
    if norm > 0.0:
        values /= norm
    return ids, values


@numba.njit(cache=True, nogil=True)
def _feature_values(words: np.ndarray, gram_starts: np.ndarray, grams: np.ndarray, token_starts: np.ndarray,
                    tokens: np.ndarray, char_weights: np.ndarray, word_weights: np.ndarray, char_floor: float, word_floor: float,
                    unigram_of_token: np.ndarray, bigram_starts: np.ndarray, bigram_codes: np.ndarray, bigram_features: np.ndarray,
                    n_tokens: int, unigrams: bool, bigrams: bool, char_counts: np.ndarray,
                    word_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One text's TF-IDF features, normalised per block: word ids (sorted) and values, then
    character ids and values (in no particular order)."""
    word_ids, word_values = _word_features(words, token_starts, tokens, word_weights, word_floor, unigram_of_token, bigram_starts,
                                           bigram_codes, bigram_features, n_tokens, unigrams, bigrams, word_counts)
    char_ids = _count_char_grams(words, gram_starts, grams, char_counts)
    char_values, char_norm = _tfidf(char_ids, char_counts, char_weights, char_floor)
    if char_norm > 0.0:
        char_values /= char_norm
    return word_ids, word_values, char_ids, char_values


@numba.njit(cache=True, nogil=True)
def _explanation_parts(words: np.ndarray, gram_starts: np.ndarray, grams: np.ndarray, token_starts: np.ndarray,
                       tokens: np.ndarray, char_weights: np.ndarray, word_weights: np.ndarray, char_floor: float,
                       word_floor: float, unigram_of_token: np.ndarray, bigram_starts: np.ndarray, bigram_codes: np.ndarray,
                       bigram_features: np.ndarray, n_tokens: int, unigrams: bool, bigrams: bool, char_counts: np.ndarray,
                       word_counts: np.ndarray, char_push: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One text's word features (sorted ids, values) and, per word of the text, the shared
    pushes of its character n-grams (see `FastScorer.explanation_parts`)."""
    word_ids, word_values = _word_features(words, token_starts, tokens, word_weights, word_floor, unigram_of_token, bigram_starts,
                                           bigram_codes, bigram_features, n_tokens, unigrams, bigrams, word_counts)
    found = _count_char_grams(words, gram_starts, grams, char_counts)
    norm2 = 0.0
    for g in found:
        value = _tf(char_counts[g]) * char_weights[g, 0]
        norm2 += value * value
    norm = max(np.sqrt(norm2), char_floor) if norm2 > 0.0 else 0.0
    pushes = np.zeros((len(words), char_push.shape[1]))
    if norm > 0.0:
        for j in range(len(words)):
            for q in range(gram_starts[words[j]], gram_starts[words[j] + 1]):
                g = grams[q]
                count = char_counts[g]
                value = _tf(count) * char_weights[g, 0] / norm
                for r in range(char_push.shape[1]):
                    pushes[j, r] += char_push[g, r] * value / count
    for g in found:
        char_counts[g] = 0
    return word_ids, word_values, pushes
