"""Explanations: the array-based `Explainer.explain` and the compiled `explain_cleaned` give the
terms and weights of the straightforward implementation they replaced (kept below as the
reference), on every shipped ticket, on odd texts, on fuzzed text, and for a model with more
than two labels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

from model.explain import Explainer, readable_terms
from model.fastpath import FastScorer
from model.pipeline import build_pipeline
from model.predictor import TriageModel
from model.text import clean_text
from tests.conftest import shipped_texts

WEIGHT_TOLERANCE = 1.0001e-4  # weights are rounded to 4 decimals; a sum in another order may round the other way
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


class ReferenceExplainer:
    """The explanation as first written: per word occurrence, character n-gram pushes shared by
    their holders, terms merged in a dict, each label ranked by sorting every term."""

    def __init__(self, pipeline: Pipeline):
        features = pipeline.named_steps["features"]
        word = dict(features.transformer_list)["word"]
        char = dict(features.transformer_list)["char"]
        self.n_word = len(word.vocabulary_)
        self.names = np.array([n.split("__", 1)[1] for n in features.get_feature_names_out()], dtype=object)
        coef = np.asarray(pipeline.named_steps["classifier"].calibrated_classifiers_[0].estimator.coef_)
        self.labels = [str(c) for c in pipeline.classes_]
        self.push = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef - coef.mean(axis=0)
        vocab, analyzer = char.vocabulary_, char.build_analyzer()
        self.ngrams_of = lambda w: np.array([vocab[g] for g in analyzer(w) if g in vocab], dtype=np.intp)

    def explain(self, cleaned: str, idx: np.ndarray, val: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        n_labels = len(self.labels)
        order = np.argsort(idx)  # features in any order: sorted here
        idx, val = idx[order].astype(np.intp, copy=False), val[order]
        contrib = self.push[:, idx] * val
        n_word_features = int(np.searchsorted(idx, self.n_word))
        terms: dict[str, list[float]] = dict(zip(self.names[idx[:n_word_features]].tolist(), contrib[:, :n_word_features].T.tolist()))
        tokens = cleaned.lower().split()
        if tokens and idx.size:
            per_token = [self.ngrams_of(t) for t in tokens]
            ids = np.concatenate(per_token) + self.n_word
            owner = np.repeat(np.arange(len(tokens)), [len(a) for a in per_token])
            col = np.minimum(np.searchsorted(idx, ids), len(idx) - 1)
            known = idx[col] == ids
            col, owner = col[known], owner[known]
            holders = np.bincount(col, minlength=len(idx))
            by_token = np.stack([
                np.bincount(owner, weights=contrib[c, col] / holders[col], minlength=len(tokens)) for c in range(n_labels)
            ]).T.tolist()
            for token, pushes in zip(tokens, by_token):
                term = _EDGE_PUNCT.sub("", token)
                if term:
                    total = terms.setdefault(term, [0.0] * n_labels)
                    for c, p in enumerate(pushes):
                        total[c] += p
        out = []
        for c, label in enumerate(self.labels):
            ranked = sorted(((v[c], t) for t, v in terms.items() if v[c] > 0), reverse=True)[:top_k]
            out += [{"term": t, "label": label, "weight": round(w, 4)} for w, t in ranked]
        return sorted(out, key=lambda e: -e["weight"])


def assert_same(got: list[dict[str, Any]], want: list[dict[str, Any]], text: str) -> None:
    assert [(e["term"], e["label"]) for e in got] == [(e["term"], e["label"]) for e in want], \
        f"the explanation of {text[:60]!r} should list the reference's terms in its order:\n{got}\n{want}"
    worst = max((abs(a["weight"] - b["weight"]) for a, b in zip(got, want)), default=0.0)
    assert worst <= WEIGHT_TOLERANCE, f"weights of {text[:60]!r} should equal the reference's to within rounding; off by {worst}"


@pytest.fixture(scope="module")
def small(small_model_dir: Path) -> tuple[TriageModel, ReferenceExplainer]:
    model = TriageModel.load(small_model_dir)
    return model, ReferenceExplainer(model.pipeline)


def features_of(model: TriageModel, cleaned: str) -> tuple[np.ndarray, np.ndarray]:
    """The ticket's non-zero feature ids and values, as `TriageModel.predict_cleaned` hands them to the explainer."""
    assert model.fast is not None
    return model.fast.feature_values(cleaned)


def test_every_shipped_ticket_gets_the_reference_explanation(small: tuple[TriageModel, ReferenceExplainer]) -> None:
    model, reference = small
    for i, text in enumerate(shipped_texts()):
        cleaned = clean_text(text)
        idx, val = features_of(model, cleaned)
        for top_k in ((6, 1, 3, 50) if i < 200 else (6,)):
            want = reference.explain(cleaned, idx, val, top_k)
            assert_same(model.explainer.explain(cleaned, idx, val, top_k, readable=False), want, text)
            assert_same(model.explainer.explain_cleaned(cleaned, top_k, readable=False), want, text)


def test_the_pipelines_own_features_give_the_same_explanation(small: tuple[TriageModel, ReferenceExplainer]) -> None:
    model, reference = small
    cleaned = [clean_text(t) for t in shipped_texts()[:50]]
    x = model.pipeline.named_steps["features"].transform(cleaned).tocsr()
    for i, text in enumerate(cleaned):
        idx, val = x[i].indices, x[i].data
        assert_same(model.explainer.explain(text, idx, val, 6, readable=False), reference.explain(text, idx, val, 6), text)


@pytest.mark.parametrize("text", [
    "",
    "!!! ... ,,, --",
    "a",
    "synken synken synken, SYNKEN! (synken) synken.",
    "lägga till lägga till en skola -- skola; skola. Skola?",
    "中文 ☃ ☃ ☃",  # words without any known character n-gram
    "ok 中文 x",
    "Hej!\n\n  Vi   behöver\thjälp med SSO.  Mvh",
])
def test_odd_texts_get_the_reference_explanation(small: tuple[TriageModel, ReferenceExplainer], text: str) -> None:
    model, reference = small
    cleaned = clean_text(text)
    idx, val = features_of(model, cleaned)
    for top_k in (0, 1, 6, 50):
        got = model.explainer.explain(cleaned, idx, val, top_k, readable=False)
        assert_same(got, reference.explain(cleaned, idx, val, top_k), text)
        assert_same(model.explainer.explain_cleaned(cleaned, top_k, readable=False), got, text)
        assert all(e["weight"] > 0 for e in got), "only terms that push towards a label are listed"
        assert [e["weight"] for e in got] == sorted((e["weight"] for e in got), reverse=True), "heaviest first"
        for label in model.labels:
            assert sum(e["label"] == label for e in got) <= top_k, f"at most top_k={top_k} terms per label"


def test_features_without_their_character_part_are_explained_by_words_alone(small: tuple[TriageModel, ReferenceExplainer]) -> None:
    model, reference = small
    cleaned = clean_text("Vi vill lägga till en ny skola i synken till Google från hösten")
    idx, val = features_of(model, cleaned)
    words_only = idx < model.explainer.n_word  # the words' n-grams are then among no feature the ticket has
    got = model.explainer.explain(cleaned, idx[words_only], val[words_only], 6, readable=False)
    assert got, "word features alone still explain the ticket"
    assert_same(got, reference.explain(cleaned, idx[words_only], val[words_only], 6), cleaned)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdeiklnorstuåäö ÅÄSGL.,!?-'\n0123")), max_size=200))
def test_fuzzed_text_gets_the_reference_explanation(small: tuple[TriageModel, ReferenceExplainer], text: str) -> None:
    model, reference = small
    cleaned = clean_text(text)
    idx, val = features_of(model, cleaned)
    want = reference.explain(cleaned, idx, val, 4)
    assert_same(model.explainer.explain(cleaned, idx, val, 4, readable=False), want, text)
    assert_same(model.explainer.explain_cleaned(cleaned, 4, readable=False), want, text)


def test_a_model_with_three_labels_gets_the_reference_explanation(tickets_frame: pd.DataFrame) -> None:
    frame = tickets_frame.groupby("label").head(100)
    texts = [f"{s}\n{b}" for s, b in zip(frame["subject"], frame["body"])]
    # Three labels: support, and delivery split into Swedish and the rest.
    labels = [lab if lab == "support" else ("delivery_sv" if lang == "sv" else "delivery_other") for lab, lang in zip(frame["label"], frame["language"])]
    assert len(set(labels)) == 3, "the test needs three labels"
    pipeline = build_pipeline(calibration_folds=2).fit(texts, labels)
    explainer, reference = Explainer(pipeline, FastScorer(pipeline)), ReferenceExplainer(pipeline)
    x = pipeline.named_steps["features"].transform([clean_text(t) for t in texts[:60]]).tocsr()
    for i, text in enumerate(texts[:60]):
        cleaned = clean_text(text)
        got = explainer.explain(cleaned, x[i].indices, x[i].data, 3, readable=False)
        assert {e["label"] for e in got} <= set(explainer.labels), "labels are the model's"
        assert_same(got, reference.explain(cleaned, x[i].indices, x[i].data, 3), text)
        assert_same(explainer.explain_cleaned(cleaned, 3, readable=False), got, text)


def test_explain_cleaned_needs_the_fast_scorer(small: tuple[TriageModel, ReferenceExplainer]) -> None:
    model, _ = small
    with pytest.raises(ValueError, match="FastScorer"):
        Explainer(model.pipeline).explain_cleaned("synken")


def test_readable_terms_join_common_words_to_the_content_word_beside_them() -> None:
    terms = ["lägga", "till", "lägga till", "vi", "vill", "vi vill", "ekskolan"]
    row_of_term = {t: i for i, t in enumerate(terms)}
    pushes = np.array([1.0, 0.8, 0.3, 0.5, 0.9, 0.4, -0.2])
    weights, names = readable_terms(pushes, terms, row_of_term, ["vi", "vill", "lägga", "till", "ekskolan"],
                                    frozenset({"vi", "vill", "till"}))
    got = dict(zip(names, weights.tolist()))
    assert got["lägga till"] == pytest.approx(1.0 + 0.8 + 0.3), "the phrase takes both words' pushes and the pair's"
    assert "vi" not in got and "vill" not in got and "vi vill" not in got, "terms of common words only are left out"
    assert got["ekskolan"] == pytest.approx(-0.2), "a content word pushing the other way stays as it is"
    assert "lägga" not in got or got["lägga"] == pytest.approx(0.0), "the word's push moved into the phrase"


def test_readable_terms_join_only_when_the_pair_pushes_the_same_way() -> None:
    terms = ["certifikatet", "gick", "certifikatet gick"]
    row_of_term = {t: i for i, t in enumerate(terms)}
    weights, names = readable_terms(np.array([0.7, 0.2, -0.1]), terms, row_of_term, ["certifikatet", "gick"], frozenset({"gick"}))
    assert dict(zip(names, weights.tolist())) == {"certifikatet": pytest.approx(0.7), "certifikatet gick": pytest.approx(-0.1)}, \
        "a common word whose pair with the content word pushes the other way does not join it"


def test_explanations_lead_with_content_words_and_phrases(small: tuple[TriageModel, ReferenceExplainer]) -> None:
    model, _ = small
    common = model.explainer.common_words
    assert {"och", "i", "the", "to"} <= common, "the most frequent function words of both languages are common words"
    for text in shipped_texts()[:300]:
        for entry in model.predict([text], explain=True)[0].explanation:
            assert not all(w in common for w in entry["term"].split()), f"{entry['term']!r} is made of common words only"


def test_readable_explanations_keep_the_probabilities(small: tuple[TriageModel, ReferenceExplainer]) -> None:
    model, _ = small
    texts = shipped_texts()[:100]
    explained = model.predict(texts, explain=True)
    plain = model.predict(texts, explain=False)
    assert [p.probabilities for p in explained] == [p.probabilities for p in plain], "explaining changes no probability"
