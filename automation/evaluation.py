"""How good a classifier is, in the numbers governance needs: accuracy, macro-F1, and how much
of the work it can take on at a given precision when it answers only when it is most sure.

Pure functions over plain lists, so each can be checked by hand on a small example.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

PRECISION_TARGETS = (0.90, 0.95, 0.98)


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    _same_length(truth, predicted)
    if not truth:
        return 0.0
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the classes present in `truth` (a class the model never predicts counts
    as 0; a class predicted but absent from `truth` does not dilute the mean)."""
    _same_length(truth, predicted)
    classes = sorted(set(truth))
    if not classes:
        return 0.0
    true_positive: Counter[str] = Counter()
    predicted_count: Counter[str] = Counter(predicted)
    actual_count: Counter[str] = Counter(truth)
    for t, p in zip(truth, predicted, strict=True):
        if t == p:
            true_positive[t] += 1
    scores = []
    for label in classes:
        tp = true_positive[label]
        precision = tp / predicted_count[label] if predicted_count[label] else 0.0
        recall = tp / actual_count[label]
        scores.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return sum(scores) / len(scores)


def coverage_at_precision(
    confidences: Sequence[float], correct: Sequence[bool], target: float
) -> float:
    """The largest share of items the classifier can answer, most confident first, keeping the
    precision of the answered ones at or above `target`. 0.0 when even its surest answer is
    wrong. Ties in confidence are taken together: a threshold cannot split them."""
    _same_length(confidences, correct)
    if not confidences:
        return 0.0
    order = sorted(range(len(confidences)), key=lambda i: -confidences[i])
    best = 0
    right = 0
    index = 0
    while index < len(order):
        # Take every item with this confidence at once.
        level = confidences[order[index]]
        while index < len(order) and confidences[order[index]] == level:
            right += bool(correct[order[index]])
            index += 1
        if right / index >= target:
            best = index
    return best / len(confidences)


def _same_length(first: Sequence[object], second: Sequence[object]) -> None:
    if len(first) != len(second):
        raise ValueError(f"Lengths differ: {len(first)} and {len(second)}.")
