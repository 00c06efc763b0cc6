"""Cross-validation features without counting n-grams once per fold.

In cross-validation the vectorizers must be fitted on each fold's training part alone (its
vocabulary and idf must not see the held-out tickets). Fitting them means counting n-grams,
the costliest step of training; but a fold's counts are just rows and columns of the counts
of all tickets. `FoldFeatures` counts once and gives each fold exactly the matrices that
`build_features().fit_transform(train)` and `.transform(test)` would
(`tests/model/test_folds.py` compares them).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer

from model.pipeline import CountedTexts, TfidfFeatures, build_features, floored_l2, norm_floor


class _Block:
    """One vectorizer's counts over all tickets, and how it limits and weights them."""

    def __init__(self, vectorizer: TfidfFeatures, counted: CountedTexts):
        key = vectorizer.counting_key()
        vocabulary, self.counts = counted.counts[key] if key in counted.counts else vectorizer.count(counted)
        self.vectorizer = vectorizer
        terms = sorted(vocabulary, key=vocabulary.__getitem__)
        self.rank = np.empty(len(terms), dtype=np.int64)  # a column's place in alphabetical order
        self.rank[np.argsort(np.array(terms, dtype=object))] = np.arange(len(terms))

    def fold(self, train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        v = self.vectorizer
        train = self.counts[train_idx]
        n_docs = train.shape[0]
        df = np.bincount(train.indices, minlength=train.shape[1])
        # As CountVectorizer.fit: an integer is a count of documents, a float a share of them.
        max_count = float(v.max_df if isinstance(v.max_df, Integral) else v.max_df * n_docs)
        min_count = float(v.min_df if isinstance(v.min_df, Integral) else v.min_df * n_docs)
        kept = np.flatnonzero((df >= min_count) & (df <= max_count))
        kept = kept[np.argsort(self.rank[kept])]  # the vectorizer sorts its vocabulary by term
        if len(kept) == 0:
            raise ValueError("after pruning, no terms remain. Try a lower min_df or a higher max_df.")
        floored = v.norm == "l2"  # as TfidfFeatures: unnormalised values, then the floored normalisation
        tfidf = TfidfTransformer(norm=None if floored else v.norm, use_idf=v.use_idf, smooth_idf=v.smooth_idf, sublinear_tf=v.sublinear_tf)
        x_train = tfidf.fit_transform(train[:, kept])
        x_test = tfidf.transform(self.counts[test_idx][:, kept])
        if floored:
            floor = norm_floor(x_train, v.norm_floor_quantile)
            x_train, x_test = floored_l2(x_train, floor), floored_l2(x_test, floor)
        return sp.csr_matrix(x_train), sp.csr_matrix(x_test)


class FoldFeatures:
    """The feature matrices of cross-validation folds, from n-grams counted once."""

    def __init__(self, counted: CountedTexts):
        self.blocks = [_Block(v, counted) for _, v in build_features().transformer_list]

    def fold(self, train_idx: np.ndarray, test_idx: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(train, test) matrices: the features fitted on the train rows, applied to both."""
        parts = [block.fold(train_idx, test_idx) for block in self.blocks]
        return sp.hstack([p[0] for p in parts], format="csr"), sp.hstack([p[1] for p in parts], format="csr")
