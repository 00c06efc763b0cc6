"""Counting n-grams for training: the vectorizers' counts, computed per distinct word.

scikit-learn's `CountVectorizer` builds its count matrix one n-gram at a time in Python: for a
60-word ticket that is some 1,500 character n-grams, each generated, hashed and counted. Most of
that work repeats, because tickets reuse the same few thousand words. Here every ticket becomes
a row of word counts, every distinct word becomes a row of its character n-gram counts once,
and the product of the two sparse matrices is the ticket's character n-gram counts. Word
bigrams are counted as pairs of word ids, and only the distinct ones are turned into strings.

The results are the vectorizers' own: the same vocabulary (up to the order of columns, which
`fit` sorts anyway) and the same counts (`tests/model/test_ngrams.py` compares them with
scikit-learn's on every shipped ticket and on fuzzed text).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

# Word tokens: runs of word characters, hyphens inside. A token never holds whitespace, which is
# what lets `count_words` (and the fast path's batches) find tokens word by word.
TOKEN_PATTERN = r"(?u)\b\w[\w-]*\w\b|\b\w\b"


def _csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], dtype: type) -> sp.csr_matrix:
    """Count matrix with one entry per (row, col) occurrence, duplicates summed."""
    return sp.coo_matrix((np.ones(len(rows), dtype=dtype), (rows, cols)), shape=shape).tocsr()


def _rows(starts: np.ndarray) -> np.ndarray:
    """The row number of every position of a flat array whose rows start at `starts`."""
    return np.repeat(np.arange(len(starts) - 1), np.diff(starts))


class SplitTexts(NamedTuple):
    """Lowercased texts split on whitespace: the distinct words, and every text as word ids."""

    words: list[str]  # distinct words, in order of first appearance
    ids: np.ndarray  # every text's words as ids into `words`, texts one after another
    starts: np.ndarray  # where each text begins in `ids` (one more entry than texts)


def split_texts(texts: Iterable[str]) -> SplitTexts:
    """Split lowercased texts into words, as both analyzers do before anything else."""
    index: defaultdict[str, int] = defaultdict()
    index.default_factory = index.__len__  # a new word gets the next number
    ids: list[int] = []
    starts = [0]
    for text in texts:
        ids += map(index.__getitem__, text.lower().split())
        starts.append(len(ids))
    return SplitTexts(list(index), np.asarray(ids, dtype=np.int64), np.asarray(starts, dtype=np.int64))


def tokens_of_texts(split: SplitTexts, word_tokens: np.ndarray, word_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every text's tokens, given each distinct word's tokens (`word_tokens[word_starts[i]:
    word_starts[i + 1]]` for word i): the texts' tokens one after another, and where each text
    begins."""
    n_tokens = np.diff(word_starts)[split.ids]
    first = np.repeat(word_starts[:-1][split.ids], n_tokens)
    offset = np.arange(n_tokens.sum()) - np.repeat(np.cumsum(n_tokens) - n_tokens, n_tokens)
    ends = np.concatenate([[0], np.cumsum(n_tokens)])
    return word_tokens[first + offset], ends[split.starts]


def char_wb_grams(word: str, ngram_range: tuple[int, int]) -> list[str]:
    """One word's character n-grams, padded with a space each side, as scikit-learn's char_wb
    makes them (a word shorter than n counts once, whole)."""
    w = f" {word} "
    grams: list[str] = []
    lo, hi = ngram_range
    for n in range(lo, hi + 1):
        if n >= len(w):
            grams.append(w)
            break
        grams += [w[i : i + n] for i in range(len(w) - n + 1)]
    return grams


def count_char_wb(split: SplitTexts, ngram_range: tuple[int, int], dtype: type = np.float64) -> tuple[dict[str, int], sp.csr_matrix]:
    """Vocabulary and count matrix of the texts' char_wb n-grams.

    Texts x words (how often each text has each word) times words x n-grams (each distinct
    word's n-grams, made once) is texts x n-grams. The result's column indices are not sorted
    within rows, which nothing downstream needs.
    """
    by_word = _csr(_rows(split.starts), split.ids, (len(split.starts) - 1, len(split.words)), dtype)
    vocabulary: dict[str, int] = {}
    gram_ids: list[int] = []
    word_starts = [0]
    for word in split.words:
        gram_ids += [vocabulary.setdefault(g, len(vocabulary)) for g in char_wb_grams(word, ngram_range)]
        word_starts.append(len(gram_ids))
    rows = _rows(np.asarray(word_starts, dtype=np.int64))
    grams_of_word = _csr(rows, np.asarray(gram_ids, dtype=np.int64), (len(split.words), len(vocabulary)), dtype)
    return vocabulary, sp.csr_matrix(by_word @ grams_of_word)


def count_words(split: SplitTexts, token_pattern: str, ngram_range: tuple[int, int],
                dtype: type = np.float64) -> tuple[dict[str, int], sp.csr_matrix]:
    """Vocabulary and count matrix of the texts' word n-grams (n at most 2).

    Tokens are found per distinct whitespace-separated word: the token pattern matches word
    characters and hyphens only, never whitespace, so a text's tokens are its words' tokens in
    order. A bigram is a pair of neighbouring tokens of the same text, coded as one integer.
    """
    lo, hi = ngram_range
    if not 1 <= lo <= hi <= 2:
        raise ValueError(f"word n-grams of sizes {ngram_range} are not counted here (1 and 2 only)")
    if token_pattern != TOKEN_PATTERN:
        raise ValueError("only TOKEN_PATTERN is counted here: another pattern might match across whitespace")
    findall = re.compile(token_pattern).findall
    index: dict[str, int] = {}
    token_ids: list[int] = []
    word_starts = [0]
    for word in split.words:
        token_ids += [index.setdefault(t, len(index)) for t in findall(word)]
        word_starts.append(len(token_ids))
    flat, starts = tokens_of_texts(split, np.asarray(token_ids, dtype=np.int64), np.asarray(word_starts, dtype=np.int64))
    n_docs = len(starts) - 1
    rows, cols = [], []
    vocabulary: dict[str, int] = {}
    if lo == 1:
        vocabulary.update(index)
        rows.append(_rows(starts))
        cols.append(flat)
    if hi == 2 and len(flat) > 1:
        same_doc = np.ones(len(flat) - 1, dtype=bool)
        last = starts[1:-1] - 1  # last position of every text but the last
        same_doc[last[(last >= 0) & (last < len(same_doc))]] = False
        left = np.flatnonzero(same_doc)
        codes = flat[left] * len(index) + flat[left + 1]
        distinct, which = np.unique(codes, return_inverse=True)
        names = list(index)
        first_bigram = len(vocabulary)
        for i, code in enumerate(distinct.tolist()):
            vocabulary[f"{names[code // len(index)]} {names[code % len(index)]}"] = first_bigram + i
        rows.append(_rows(starts)[left])
        cols.append(first_bigram + which)
    if not rows:
        return vocabulary, sp.csr_matrix((n_docs, 0), dtype=dtype)
    return vocabulary, _csr(np.concatenate(rows), np.concatenate(cols), (n_docs, len(vocabulary)), dtype)
