"""The estimator's parts: fast-fitting vectorizers and a classifier assembled from training's parts."""

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from model.pipeline import RANDOM_STATE, TfidfFeatures, build_classifier, build_features, build_logistic, calibrated_classifier, count_ngrams
from model.text import clean_text
from tests.conftest import TICKETS


@pytest.fixture(scope="module")
def cleaned() -> pd.DataFrame:
    frame = pd.read_csv(TICKETS, dtype=str, keep_default_na=False).head(500)
    return pd.DataFrame({"text": [clean_text(f"{s}\n{b}") for s, b in zip(frame["subject"], frame["body"])], "label": frame["label"]})


def plain_copy(vectorizer: TfidfFeatures) -> TfidfVectorizer:
    return TfidfVectorizer(**vectorizer.get_params())


def test_fast_fitting_vectorizers_equal_scikit_learns(cleaned: pd.DataFrame) -> None:
    texts = cleaned["text"].tolist()
    for name, vectorizer in build_features().transformer_list:
        plain = plain_copy(vectorizer)
        ours = vectorizer.fit_transform(texts)
        expected = plain.fit_transform(texts)
        assert vectorizer.vocabulary_ == plain.vocabulary_, name
        assert np.array_equal(vectorizer.idf_, plain.idf_), name
        assert abs(ours - expected).max() < 1e-12, name


def test_fitting_on_counted_texts_uses_their_counts_and_equals_counting_again(cleaned: pd.DataFrame) -> None:
    texts = cleaned["text"].tolist()
    counted = count_ngrams(texts)
    assert len(counted.counts) == 2
    from_counts = build_features().fit_transform(counted)
    assert counted.counts == {}  # taken, so the gigabyte of a large corpus can be freed
    assert abs(from_counts - build_features().fit_transform(texts)).max() < 1e-12


def test_a_vectorizer_the_fast_counting_does_not_cover_counts_the_scikit_learn_way() -> None:
    vectorizer = TfidfFeatures(analyzer="char", ngram_range=(1, 2))
    assert vectorizer.counting_key() is None
    texts = ["abc", "abd"]
    assert vectorizer.fit(texts).vocabulary_ == TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(texts).vocabulary_
    spanning = TfidfFeatures(analyzer="word", token_pattern=r"\w+ \w+")  # tokens across whitespace
    assert spanning.counting_key() is None
    texts = ["ny skola i synken", "synken ny"]
    assert spanning.fit(texts).vocabulary_ == TfidfVectorizer(analyzer="word", token_pattern=r"\w+ \w+").fit(texts).vocabulary_


@pytest.mark.parametrize("n_labels", [2, 3])
def test_classifier_from_parts_equals_fitting_calibrated_classifier(cleaned: pd.DataFrame, n_labels: int) -> None:
    y = cleaned["label"].to_numpy().copy()
    if n_labels == 3:
        y[::4] = "question"
    x = build_features().fit_transform(cleaned["text"].tolist())
    labels = np.unique(y)
    encoded = np.searchsorted(labels, y)
    folds = StratifiedKFold(5, shuffle=True, random_state=RANDOM_STATE)
    expected = build_classifier(C=10.0, calibration_folds=5).fit(x, y)

    logistic = build_logistic(10.0).fit(x, encoded)
    scores = cross_val_predict(build_logistic(10.0), x, encoded, cv=folds, method="decision_function")
    assembled = calibrated_classifier(logistic, scores, y, 5)

    assert list(assembled.classes_) == list(expected.classes_)
    assert np.abs(assembled.predict_proba(x) - expected.predict_proba(x)).max() < 1e-9
    assert assembled.calibrated_classifiers_[0].calibrators[0].beta_ == pytest.approx(expected.calibrated_classifiers_[0].calibrators[0].beta_, rel=1e-9)
