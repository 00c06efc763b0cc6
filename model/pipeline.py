"""The estimator: text cleaning -> word and character TF-IDF -> calibrated logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from model.text import TextCleaner

# Word 1-2 grams carry phrases ("ny skola", "fungerar inte"); character 2-5 grams inside word
# boundaries match Swedish compounds, inflections and typos ("synkroniseringen", "synken").
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
DEFAULT_C = 10.0
RANDOM_STATE = 0


class TfidfFeatures(TfidfVectorizer):
    """A TfidfVectorizer that saves its fitted vocabulary as one newline-joined string.

    skops writes a dict as one JSON node per entry: with a few hundred thousand n-grams that is
    80 MB that takes seconds to parse. Terms never contain a newline (both analyzers split on
    whitespace first), so one string holds them all, in index order.
    """

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            state["vocabulary_terms_"] = "\n".join(sorted(vocabulary, key=vocabulary.__getitem__))
            state["vocabulary_size_"] = len(vocabulary)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        size = state.pop("vocabulary_size_", 0)
        if terms is not None:
            state["vocabulary_"] = {t: i for i, t in enumerate(terms.split("\n"))} if size else {}
        super().__setstate__(state)


def build_features() -> FeatureUnion:
    """TF-IDF over word and character n-grams of the cleaned text."""
    word = TfidfFeatures(
        analyzer="word", ngram_range=WORD_NGRAMS, lowercase=True, sublinear_tf=True,
        min_df=1, max_df=0.9, token_pattern=r"(?u)\b\w[\w-]*\w\b|\b\w\b", dtype=np.float64,
    )
    char = TfidfFeatures(
        analyzer="char_wb", ngram_range=CHAR_NGRAMS, lowercase=True, sublinear_tf=True,
        min_df=2, max_df=0.9, dtype=np.float64,
    )
    return FeatureUnion([("word", word), ("char", char)])


def build_logistic(C: float = DEFAULT_C) -> LogisticRegression:
    """The logistic regression itself, before calibration (cross-validation fits it per fold)."""
    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, solver="lbfgs")


def build_classifier(C: float = DEFAULT_C, calibration_folds: int = 5) -> CalibratedClassifierCV:
    """Logistic regression whose probabilities are temperature-scaled on out-of-fold scores.

    `ensemble=False`: one regression fitted on all data serves, the folds only fit the
    temperature, so prediction costs a single sparse dot product.
    """
    logistic = build_logistic(C)
    folds = StratifiedKFold(calibration_folds, shuffle=True, random_state=RANDOM_STATE)
    return CalibratedClassifierCV(logistic, method="temperature", cv=folds, ensemble=False)


def build_pipeline(C: float = DEFAULT_C, calibration_folds: int = 5) -> Pipeline:
    """The whole estimator saved in a model directory; its input is raw ticket text."""
    return Pipeline(
        [("clean", TextCleaner()), ("features", build_features()), ("classifier", build_classifier(C, calibration_folds))]
    )
