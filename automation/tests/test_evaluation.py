"""The evaluation metrics, on examples small enough to check by hand."""

from __future__ import annotations

import pytest

from automation.evaluation import accuracy, coverage_at_precision, macro_f1


def test_accuracy_is_the_share_right() -> None:
    assert accuracy(["a", "b", "c", "a"], ["a", "b", "a", "a"]) == 0.75


def test_macro_f1_averages_each_true_class_equally() -> None:
    truth = ["a", "a", "a", "b"]
    predicted = ["a", "a", "b", "b"]
    # a: precision 2/2, recall 2/3 -> 0.8; b: precision 1/2, recall 1/1 -> 2/3
    assert macro_f1(truth, predicted) == pytest.approx((0.8 + 2 / 3) / 2)


def test_a_class_never_predicted_scores_zero() -> None:
    assert macro_f1(["a", "b"], ["a", "a"]) == pytest.approx((2 / 3 + 0) / 2)


def test_coverage_keeps_the_most_confident_prefix_that_holds_precision() -> None:
    confidences = [0.99, 0.95, 0.90, 0.80, 0.70]
    correct = [True, True, True, False, True]
    assert coverage_at_precision(confidences, correct, 0.95) == 0.6  # first three
    assert coverage_at_precision(confidences, correct, 0.75) == 1.0  # 4/5 right overall
    assert coverage_at_precision(confidences, correct, 0.80) == 1.0


def test_coverage_is_zero_when_the_surest_answer_is_wrong() -> None:
    assert coverage_at_precision([0.9, 0.5], [False, True], 0.9) == 0.0


def test_tied_confidences_are_taken_together() -> None:
    # Two items at 0.9, one right and one wrong: a threshold cannot take only the right one.
    assert coverage_at_precision([0.9, 0.9], [True, False], 0.9) == 0.0


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError):
        accuracy(["a"], [])
