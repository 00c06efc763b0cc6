"""Fold features cut from counts made once must equal features fitted on each fold."""

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from model.folds import FoldFeatures
from model.pipeline import build_features, count_ngrams
from model.text import clean_text
from tests.conftest import TICKETS


def test_each_fold_gets_the_features_fitted_on_its_training_part_alone() -> None:
    frame = pd.read_csv(TICKETS, dtype=str, keep_default_na=False).head(600)
    texts = [clean_text(f"{s}\n{b}") for s, b in zip(frame["subject"], frame["body"])]
    folds = FoldFeatures(count_ngrams(texts))
    for train_idx, test_idx in StratifiedKFold(3, shuffle=True, random_state=0).split(texts, frame["label"]):
        x_train, x_test = folds.fold(train_idx, test_idx)
        features = build_features()
        expected_train = features.fit_transform([texts[i] for i in train_idx])
        expected_test = features.transform([texts[i] for i in test_idx])
        assert x_train.shape == expected_train.shape and x_test.shape == expected_test.shape
        assert abs(x_train - expected_train).max() < 1e-12
        assert abs(x_test - expected_test).max() < 1e-12


def test_a_subset_of_rows_is_a_fold_of_its_own() -> None:
    texts = ["ny skola i synken", "lägg till skola", "synken fungerar inte", "inloggning fungerar inte", "ny skola", "fel i synken"]
    folds = FoldFeatures(count_ngrams(texts))
    x_train, x_test = folds.fold(np.array([0, 2, 4]), np.array([5]))
    features = build_features()
    expected = features.fit_transform([texts[i] for i in (0, 2, 4)])
    assert abs(x_train - expected).max() < 1e-12
    assert abs(x_test - features.transform([texts[5]])).max() < 1e-12
