import numpy as np
import pytest

from model.decision import MIN_AUTO_CONFIDENCE, NEVER, REVIEW, choose_thresholds, route, wilson_interval, wilson_lower_bound

LABELS = ["delivery", "support"]


def test_threshold_is_the_lowest_confidence_that_keeps_the_target_precision() -> None:
    # 250 tickets predicted 'support' with falling confidence; the last 50 are half wrong.
    conf = np.linspace(0.99, 0.51, 250)
    proba = np.column_stack([1 - conf, conf])
    y = ["support"] * 200 + ["support", "delivery"] * 25
    t = choose_thresholds(proba, y, LABELS, target_precision=0.95, min_confidence=0.5)
    assert conf[219] < t["support"] <= conf[199], "all 200 clean tickets are routed, little of the half-wrong tail"
    assert t["delivery"] == NEVER, "a label never predicted never auto-routes"


def test_precision_must_hold_for_the_lower_bound_not_the_point_estimate() -> None:
    proba = np.array([[0.01, 0.99], [0.02, 0.98]])
    t = choose_thresholds(proba, ["support", "support"], LABELS, target_precision=0.95)
    assert t["support"] == NEVER, "two right out of two is too little evidence for 95% precision"


def test_confidence_floor() -> None:
    conf = np.linspace(0.99, 0.55, 400)
    t = choose_thresholds(np.column_stack([1 - conf, conf]), ["support"] * 400, LABELS, 0.95)
    assert t["support"] == pytest.approx(MIN_AUTO_CONFIDENCE), "all right, yet near-coin-flips still go to review"


def test_ties_are_judged_together() -> None:
    proba = np.array([[0.1, 0.9]] * 120 + [[0.2, 0.8]] * 2)
    y = ["support"] * 121 + ["delivery"]
    t = choose_thresholds(proba, y, LABELS, target_precision=0.9, min_confidence=0.5)
    assert t["support"] == pytest.approx(0.8), "the tie at 0.8 is admitted as a whole (121 of 122 right)"
    t = choose_thresholds(proba, y, LABELS, target_precision=0.97, min_confidence=0.5)
    assert t["support"] == pytest.approx(0.9), "at 0.97 the tie at 0.8 (one wrong) is refused as a whole"


def test_route_sends_low_confidence_to_review() -> None:
    routes, labels, conf = route(np.array([[0.9, 0.1], [0.4, 0.6]]), LABELS, {"delivery": 0.8, "support": 0.8})
    assert routes == ["delivery", REVIEW]
    assert labels == ["delivery", "support"]
    assert conf.tolist() == [0.9, 0.6]


def test_bad_target_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="target precision"):
        choose_thresholds(np.array([[0.5, 0.5]]), ["support"], LABELS, 1.5)


@pytest.mark.parametrize(("correct", "n", "lower", "upper"), [
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17:857, table I, method 3.
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_the_published_values(correct: int, n: int, lower: float, upper: float) -> None:
    low, high = wilson_interval(correct, n, z=1.959964)
    assert (round(float(low), 4), round(float(high), 4)) == (lower, upper), f"{correct}/{n}: the 95% Wilson interval is {lower}-{upper}"


def test_wilson_interval_stays_in_zero_one_and_its_lower_end_is_the_bound() -> None:
    correct, n = np.array([0, 5, 10]), np.array([10, 10, 10])
    low, high = wilson_interval(correct, n)
    assert (low >= 0).all() and (high <= 1).all() and (low < high).all(), f"ends within [0, 1], lower below upper: {low}, {high}"
    assert np.array_equal(wilson_lower_bound(correct, n), low), "the threshold choice's lower bound is the interval's lower end (one formula)"
