"""The estimator: text cleaning -> word and character TF-IDF -> calibrated logistic regression."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV, _fit_calibrator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from model.ngrams import TOKEN_PATTERN, SplitTexts, count_char_wb, count_words, split_texts
from model.text import TextCleaner

# Word 1-2 grams carry phrases ("ny skola", "fungerar inte"); character 2-5 grams inside word
# boundaries match Swedish compounds, inflections and typos ("synkroniseringen", "synken").
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
DEFAULT_C = 10.0
RANDOM_STATE = 0
# A ticket's TF-IDF block is divided by its l2 norm, but never by less than the norm of the
# shortest tenth of the training tickets: a four-word ticket is not scaled up to carry as much
# evidence as a paragraph, so "vi vill ha hjälp" cannot reach near-certainty on two common words.
NORM_FLOOR_QUANTILE = 0.1


Counts = tuple[dict[str, int], sp.csr_matrix]  # a vocabulary (term -> column) and a count matrix


class CountedTexts(list[str]):
    """Cleaned texts with their n-gram counts already made (`count_ngrams`): a `TfidfFeatures`
    fitted on them takes its counts (once: they leave the object) instead of counting again."""

    def __init__(self, texts: Iterable[str], counts: dict[tuple[Any, ...], Counts]):
        super().__init__(texts)
        self.counts = counts


def norm_floor(raw: sp.csr_matrix, quantile: float) -> float:
    """The `quantile` of the l2 norms of rows of unnormalised TF-IDF values (0 for quantile 0)."""
    if quantile <= 0 or raw.shape[0] == 0:
        return 0.0
    return float(np.quantile(np.sqrt(np.asarray(raw.multiply(raw).sum(axis=1)).ravel()), quantile))


def floored_l2(raw: sp.csr_matrix, floor: float) -> sp.csr_matrix:
    """Rows divided by their l2 norm, or by `floor` where the norm is smaller (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(raw.multiply(raw).sum(axis=1)).ravel())
    scale = 1.0 / np.maximum(norms, floor) if floor > 0 else 1.0 / np.where(norms > 0, norms, 1.0)
    out = sp.csr_matrix(raw, copy=True)
    out.data *= np.repeat(scale, np.diff(out.indptr))
    return out


class TfidfFeatures(TfidfVectorizer):
    """A TfidfVectorizer that counts fast when fitting, floors its l2 normalisation and saves its
    vocabulary compactly.

    Normalisation: with `norm="l2"`, each row is divided by its l2 norm or by `norm_floor_`
    (the `norm_floor_quantile` quantile of the training rows' norms), whichever is larger
    (`NORM_FLOOR_QUANTILE`, above, says why). A model saved before the floor existed has none.

    Fitting counts n-grams per distinct word (`model.ngrams`) instead of one n-gram at a time:
    the same vocabulary and counts, several times faster. Transforming is scikit-learn's own
    (serving uses `model.fastpath`).

    skops writes a dict as one JSON node per entry: with a few hundred thousand n-grams that is
    80 MB that takes seconds to parse. Terms never contain a newline (both analyzers split on
    whitespace first), so one string holds them all, in index order.
    """

    norm_floor_quantile = NORM_FLOOR_QUANTILE  # a class setting, not a constructor parameter: set it on an instance to vary it

    def fit(self, raw_documents: Any, y: Any = None) -> TfidfFeatures:
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None) -> sp.csr_matrix:
        if self.get_params()["norm"] != "l2":
            self.norm_floor_ = 0.0
            return super().fit_transform(raw_documents)
        # The transformer keeps the values unnormalised; the floored normalisation follows.
        self.set_params(norm=None)
        try:
            raw = super().fit_transform(raw_documents)
        finally:
            self.set_params(norm="l2")
        self.norm_floor_ = norm_floor(raw, self.norm_floor_quantile)
        return floored_l2(raw, self.norm_floor_)

    def transform(self, raw_documents: Any) -> sp.csr_matrix:
        x = super().transform(raw_documents)
        if self.get_params()["norm"] == "l2" and self._tfidf.norm is None:
            return floored_l2(x, getattr(self, "norm_floor_", 0.0))
        return x

    def counting_key(self) -> tuple[Any, ...] | None:
        """What the counts depend on, when `model.ngrams` can count for this configuration."""
        plain = (self.input == "content" and self.lowercase and self.preprocessor is None and self.tokenizer is None
                 and self.strip_accents is None and self.stop_words is None)
        if plain and self.analyzer == "char_wb":
            return ("char_wb", tuple(self.ngram_range))
        if plain and self.analyzer == "word" and self.ngram_range[1] <= 2 and self.token_pattern == TOKEN_PATTERN:
            return ("word", tuple(self.ngram_range), self.token_pattern)
        return None

    def count(self, texts: Iterable[str], split: SplitTexts | None = None) -> Counts:
        """Every n-gram of the texts (no document-frequency limits) and their counts; `split`
        is the texts' `split_texts`, when already made."""
        key = self.counting_key()
        if key is None:
            return super()._count_vocab(texts, False)  # type: ignore[no-any-return]
        split = split or split_texts(texts)
        if key[0] == "char_wb":
            return count_char_wb(split, self.ngram_range, self.dtype)
        return count_words(split, self.token_pattern, self.ngram_range, self.dtype)

    def _count_vocab(self, raw_documents: Any, fixed_vocab: bool) -> Counts:
        if fixed_vocab:
            return super()._count_vocab(raw_documents, fixed_vocab)  # type: ignore[no-any-return]
        key = self.counting_key()
        if isinstance(raw_documents, CountedTexts) and key in raw_documents.counts:
            # Taken, not copied: the counts of 100,000 tickets are a gigabyte, and fitting makes
            # its own pruned copy, after which these can go.
            return raw_documents.counts.pop(key)
        vocabulary, counts = self.count(raw_documents)
        if not vocabulary:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        return vocabulary, counts

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
        min_df=1, max_df=0.9, token_pattern=TOKEN_PATTERN, dtype=np.float64,
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


def count_ngrams(cleaned: Iterable[str]) -> CountedTexts:
    """Cleaned texts with the counts of every vectorizer of `build_features`, counted once."""
    texts = list(cleaned)
    split = split_texts(texts)
    counts = {}
    for _, vectorizer in build_features().transformer_list:
        key = vectorizer.counting_key()
        if key is not None:
            counts[key] = vectorizer.count(texts, split)
    return CountedTexts(texts, counts)


def calibrated_classifier(logistic: LogisticRegression, fold_scores: np.ndarray, y: np.ndarray,
                          calibration_folds: int) -> CalibratedClassifierCV:
    """The fitted `build_classifier(C, calibration_folds)`, made from its parts.

    `logistic` was fitted on all tickets with labels encoded as 0..k-1 in sorted order, and
    `fold_scores` are out-of-fold decision scores of the same regression (for `y`, the tickets
    they score). `CalibratedClassifierCV.fit` would compute the same scores once more with
    another round of cross-validation; training has them already (`tests/model/test_pipeline.py`
    checks that both ways give the same classifier).
    """
    classifier = build_classifier(logistic.C, calibration_folds)
    classes = np.unique(y)
    scores = fold_scores.reshape(-1, 1) if fold_scores.ndim == 1 else fold_scores
    classifier.classes_ = classes
    classifier.calibrated_classifiers_ = [
        _fit_calibrator(logistic, scores, np.searchsorted(classes, y), classes, "temperature", xp=np)
    ]
    classifier.n_features_in_ = logistic.n_features_in_
    return classifier


def build_pipeline(C: float = DEFAULT_C, calibration_folds: int = 5) -> Pipeline:
    """The whole estimator saved in a model directory; its input is raw ticket text."""
    return Pipeline(
        [("clean", TextCleaner()), ("features", build_features()), ("classifier", build_classifier(C, calibration_folds))]
    )


def fitted_shape_problem(pipeline: Pipeline) -> str | None:
    """Why a loaded pipeline's fitted arrays do not fit together, or None.

    A model file is checked against its signed hash, but a file signed in error (or a skops file
    built by hand) could hold a vocabulary, idf weights and coefficients of sizes that disagree;
    predicting would then fail with an IndexError on every request. This says which part is off.
    """
    try:
        return _shape_problem(pipeline)
    except Exception as e:  # unfitted or odd parts raise all kinds; each means the model cannot serve
        return f"{type(e).__name__}: {str(e)[:200]}"


def _shape_problem(pipeline: Pipeline) -> str | None:
    steps = pipeline.named_steps
    features, classifier = steps.get("features"), steps.get("classifier")
    if features is None or classifier is None:
        return "it has no 'features' or no 'classifier' step"
    n_features = 0
    for name, vectorizer in getattr(features, "transformer_list", [("features", features)]):
        vocabulary, idf = vectorizer.vocabulary_, np.asarray(vectorizer.idf_)
        if idf.ndim != 1 or len(idf) != len(vocabulary):
            return f"the {name} features have {len(vocabulary)} terms but idf weights of shape {idf.shape}"
        columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        if len(columns) and (columns.min() < 0 or columns.max() >= len(columns) or len(np.unique(columns)) != len(columns)):
            return f"the {name} features' terms are not numbered 0 to {len(columns) - 1}"
        if not np.isfinite(idf).all():
            return f"the {name} features' idf weights are not all finite numbers"
        n_features += len(vocabulary)
    classes = list(classifier.classes_)
    rows = 1 if len(classes) == 2 else len(classes)
    calibrated = getattr(classifier, "calibrated_classifiers_", None)
    for part in calibrated if calibrated is not None else [None]:
        estimator = classifier if part is None else part.estimator
        coef, intercept = np.asarray(estimator.coef_), np.asarray(estimator.intercept_)
        if coef.shape != (rows, n_features) or intercept.shape != (rows,):
            return (f"the classifier's coefficients have shape {coef.shape} and its intercepts {intercept.shape}; "
                    f"{n_features} features and {len(classes)} labels need {(rows, n_features)} and {(rows,)}")
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            return "the classifier's coefficients are not all finite numbers"
        for calibrator in [] if part is None else part.calibrators:
            beta = np.asarray(getattr(calibrator, "beta_", 1.0), dtype=np.float64)
            if beta.size != 1 or not np.isfinite(beta).all():
                return "the calibration's temperature is not one finite number"
    return None
