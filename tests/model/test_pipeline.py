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
        vectorizer.norm_floor_quantile = 0.0  # no floor: plain l2 rows, as scikit-learn's
        plain = plain_copy(vectorizer)
        ours = vectorizer.fit_transform(texts)
        expected = plain.fit_transform(texts)
        assert vectorizer.vocabulary_ == plain.vocabulary_, name
        assert np.array_equal(vectorizer.idf_, plain.idf_), name
        assert abs(ours - expected).max() < 1e-12, name
        assert abs(vectorizer.transform(texts[:50]) - plain.transform(texts[:50])).max() < 1e-12, name


def test_rows_with_a_norm_below_the_floor_are_not_scaled_up(cleaned: pd.DataFrame) -> None:
    texts = cleaned["text"].tolist() + ["vi vill", "SSO nere"]
    for name, vectorizer in build_features().transformer_list:
        ours = vectorizer.fit_transform(texts)
        raw = TfidfVectorizer(**{**vectorizer.get_params(), "norm": None}).fit_transform(texts)
        norms = np.sqrt(np.asarray(raw.multiply(raw).sum(axis=1)).ravel())
        assert vectorizer.norm_floor_ == pytest.approx(np.quantile(norms, vectorizer.norm_floor_quantile)), name
        got = np.sqrt(np.asarray(ours.multiply(ours).sum(axis=1)).ravel())
        above = norms >= vectorizer.norm_floor_
        assert np.allclose(got[above], 1.0), f"{name}: a row at least as long as the floor is l2-normalised"
        assert np.allclose(got[~above], norms[~above] / vectorizer.norm_floor_), f"{name}: a shorter row is divided by the floor"
        assert got[-2] < 1.0, f"{name}: a two-word ticket keeps a norm below 1"
        assert abs(vectorizer.transform(texts) - ours).max() < 1e-12, f"{name}: transform normalises as fitting did"


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
