"""Training: the regularisation search, its sample on large data, and parallel fitting."""

import numpy as np
import pandas as pd
import pytest

import model.train as train_module
from model.data import load_tickets
from model.train import cross_validation_sample, train


@pytest.fixture(scope="module")
def tickets(small_tickets_file) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return load_tickets([small_tickets_file])


def test_parallel_search_gives_the_sequential_result(tickets: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    sequential = train(tickets, c_grid=(1.0, 10.0), jobs=1)
    monkeypatch.setattr(train_module, "PARALLEL_FROM", 10)
    parallel = train(tickets, c_grid=(1.0, 10.0), jobs=2)
    assert parallel.params == sequential.params
    assert np.abs(parallel.oof_proba - sequential.oof_proba).max() < 1e-9
    texts = tickets["text"].tolist()[:50]
    assert np.abs(parallel.pipeline.predict_proba(texts) - sequential.pipeline.predict_proba(texts)).max() < 1e-9


def test_large_data_is_cross_validated_on_a_sample_and_fitted_on_everything(tickets: pd.DataFrame) -> None:
    result = train(tickets, c_grid=(10.0,), cv_sample=100)
    assert result.params["cv_tickets"] == 100
    assert len(result.tickets) == len(result.oof_proba) == 100
    assert len(result.fitted_tickets) == len(tickets)
    assert result.report["n"] == 100
    assert set(result.pipeline.predict(tickets["text"].tolist()[:5])) <= set(result.labels)


def test_served_probabilities_use_the_temperature_the_thresholds_were_chosen_with(tickets: pd.DataFrame) -> None:
    result = train(tickets, c_grid=(10.0,))
    beta = float(result.pipeline.named_steps["classifier"].calibrated_classifiers_[0].calibrators[0].beta_)
    # Two labels: scikit-learn's logits are (-d, d) times beta; training's are (0, d) / T.
    assert 2 * beta == pytest.approx(1 / result.params["oof_temperature"], rel=1e-3)


def test_sample_is_stratified_and_keeps_labels_too_rare_for_the_folds() -> None:
    y = np.array(["a"] * 600 + ["b"] * 390 + ["c"] * 10)
    sample = cross_validation_sample(y, 100, folds=5)
    labels, counts = np.unique(y[sample], return_counts=True)
    assert list(labels) == ["a", "b", "c"]
    assert counts[2] == 10  # every "c": a sample of 1 could not fill five folds
    assert 55 <= counts[0] <= 65 and 35 <= counts[1] <= 42
    assert np.array_equal(sample, np.sort(sample))


def test_small_data_is_cross_validated_whole() -> None:
    y = np.array(["a", "b"] * 50)
    assert np.array_equal(cross_validation_sample(y, 1000, folds=5), np.arange(100))


def test_thresholds_and_calibration_come_from_situations_held_out(tickets: pd.DataFrame) -> None:
    result = train(tickets, c_grid=(10.0,))
    assert result.params["situations"] == tickets["scenario"].nunique(), "the scenario tags are the situations"
    assert result.params["situations_from_scenario_tags"] == len(tickets)
    assert np.abs(result.oof_proba - result.familiar_proba).max() > 0.05, "holding situations out changes the predictions"
    held_out_f1, familiar_f1 = result.report["macro_f1"], result.familiar_report["macro_f1"]
    assert held_out_f1 < familiar_f1, "new situations are harder than familiar ones"
    assert [r["target"] for r in result.routing] == [0.90, 0.95, 0.98], "what each promise target costs is measured"
    assert {"held-out situations", "familiar situations"} <= set(result.routing[0])


def test_untagged_tickets_are_held_out_by_topic(tickets: pd.DataFrame) -> None:
    result = train(tickets.assign(scenario=""), c_grid=(10.0,))
    assert result.params["situations_from_scenario_tags"] == 0
    assert result.params["situations"] >= 5, "topic clusters stand in for the missing tags"


def test_too_few_tickets_for_the_target_are_told_in_words(tickets: pd.DataFrame) -> None:
    few = tickets.groupby("label").head(40).reset_index(drop=True)
    result = train(few, c_grid=(10.0,))
    assert result.report["auto_routed_share"] < 0.5
    assert any("label more tickets" in a and "lower the target" in a for a in result.advice), result.advice
