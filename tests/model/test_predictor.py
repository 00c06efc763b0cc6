from pathlib import Path

import pytest

from model.decision import REVIEW
from model.predictor import TriageModel


def test_predictions_carry_route_probabilities_and_explanations(small_model_dir: Path) -> None:
    model = TriageModel.load(small_model_dir)
    [p] = model.predict(["Vi vill lägga till en ny skola i synken till Google från hösten"], explain=True)
    assert set(p.probabilities) == {"delivery", "support"}
    assert p.probabilities["delivery"] + p.probabilities["support"] == pytest.approx(1.0)
    assert p.route in ("delivery", "support", REVIEW)
    assert p.explanation, "an explanation lists terms"
    assert {e["label"] for e in p.explanation} <= {"delivery", "support"}
    assert all(e["weight"] > 0 for e in p.explanation)


def test_predict_matches_the_saved_pipeline(small_model_dir: Path) -> None:
    model = TriageModel.load(small_model_dir)
    texts = ["SSO funkar inte", "Please add a new school to the sync", ""]
    direct = model.pipeline.predict_proba(texts)
    via = [v for p in model.predict(texts) for v in p.probabilities.values()]
    assert via == pytest.approx(direct.ravel().tolist(), abs=1e-12)


def test_threshold_overrides(small_model_dir: Path) -> None:
    strict = TriageModel.load(small_model_dir, thresholds={"delivery": 1.01, "support": 1.01})
    assert {p.route for p in strict.predict(["SSO funkar inte", "ny skola i synken"])} == {REVIEW}
    lenient = TriageModel.load(small_model_dir, target_precision=0.5)
    assert all(t <= TriageModel.load(small_model_dir).thresholds[k] for k, t in lenient.thresholds.items())
    with pytest.raises(ValueError, match="unknown label"):
        TriageModel.load(small_model_dir, thresholds={"billing": 0.5})


def test_predict_cleaned_is_predict_after_the_pipelines_own_cleaning(small_model_dir: Path) -> None:
    from model.text import clean_text

    model = TriageModel.load(small_model_dir)
    raw = ["<p>Hej,</p> synken har stannat.\nMvh\nAnna\n070-123 45 67", "Please add a new school to the sync"]
    assert model.predict_cleaned([clean_text(t) for t in raw], explain=True) == model.predict(raw, explain=True)
