"""Evaluate the local classifier on anyone's data: a CSV with text columns and a label column,
either a train/test pair or K-fold cross-validation on one file. Trains exactly as production
does (`classifier_train`)."""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.model_selection import StratifiedKFold

from automation.classifier import LocalClassifier, classifier_train
from automation.evaluation import PRECISION_TARGETS, accuracy, coverage_at_precision, macro_f1

SINGLE_SAMPLES = 200


class DatasetError(ValueError):
    """The CSV cannot be used; the message says why and what would be accepted."""


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: list[str]
    # Per row, the context tokens the classifier reads beside the text (None: text only).
    contexts: list[str] | None = None

    def subset(self, indices: Sequence[int]) -> Dataset:
        return Dataset(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            [self.contexts[i] for i in indices] if self.contexts is not None else None,
        )


def dataset_load(
    path: Path, *, text_columns: Sequence[str], label: str, field_columns: Sequence[str] = ()
) -> Dataset:
    """Rows with an empty label are skipped; text columns are joined with a blank line. Each
    field column (a category such as the caller, client or site) becomes one context token,
    `column=value`, as production's client, contact and source are."""
    if not text_columns:
        raise DatasetError("Give at least one --text column.")
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise DatasetError(f"Cannot read {path}: {error.strerror}.") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in [*text_columns, *field_columns, label] if c not in columns]
        if missing:
            raise DatasetError(
                f"{path.name} has no column {', '.join(repr(c) for c in missing)}; "
                f"its columns are: {', '.join(repr(c) for c in columns) or 'none'}."
            )
        texts, labels, contexts = [], [], []
        for row in reader:
            value = (row.get(label) or "").strip()
            if not value:
                continue
            texts.append("\n\n".join((row.get(column) or "").strip() for column in text_columns))
            labels.append(value)
            contexts.append(" ".join(_field_token(c, row.get(c)) for c in field_columns))
    if not texts:
        raise DatasetError(f"{path.name} has no rows with a {label!r} value.")
    return Dataset(texts, labels, contexts if field_columns else None)


def _field_token(column: str, value: str | None) -> str:
    """One whitespace-free token per field, e.g. `caller=eylqgodm_ybqkwiam`."""
    name = "_".join(column.lower().split())
    return f"{name}=" + ("_".join((value or "").lower().split()) or "-")


def evaluate_split(train: Dataset, test: Dataset) -> dict[str, Any]:
    model = classifier_train(train.texts, train.labels, train.contexts)
    return _score(model, test) | {"train_seconds": model.train_seconds}


def evaluate_cv(data: Dataset, *, folds: int, seed: int = 7) -> dict[str, Any]:
    """Stratified K-fold: mean of each figure over the folds, with the accuracy and macro-F1
    of every fold so the spread is visible."""
    if folds < 2:
        raise DatasetError("--cv needs at least 2 folds.")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    results = []
    # Classes with fewer rows than folds still go into some folds; sklearn warns, we do not.
    for train_index, test_index in splitter.split(data.texts, _fold_labels(data.labels, folds)):
        results.append(evaluate_split(data.subset(train_index), data.subset(test_index)))
    summary = _mean(results)
    summary["folds"] = [{"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]} for r in results]
    return summary


def _fold_labels(labels: Sequence[str], folds: int) -> list[str]:
    """Stratify on the label, lumping classes too small to spread over the folds."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [label if counts[label] >= folds else "__rare__" for label in labels]


def _score(model: LocalClassifier, test: Dataset) -> dict[str, Any]:
    started = time.perf_counter()
    predictions = model.predict(test.texts, test.contexts)
    batch_seconds = time.perf_counter() - started
    predicted = [p.label for p in predictions]
    correct = [p == t for p, t in zip(predicted, test.labels, strict=True)]
    confidences = [p.confidence for p in predictions]
    singles = []
    for index, text in enumerate(test.texts[:SINGLE_SAMPLES]):
        context = [test.contexts[index]] if test.contexts is not None else None
        one = time.perf_counter()
        model.predict([text], context)
        singles.append((time.perf_counter() - one) * 1000)
    singles.sort()
    return {
        "accuracy": round(accuracy(test.labels, predicted), 4),
        "macro_f1": round(macro_f1(test.labels, predicted), 4),
        "coverage_at_precision": {
            f"{target:.2f}": round(coverage_at_precision(confidences, correct, target), 4)
            for target in PRECISION_TARGETS
        },
        "predict_per_second": round(len(test.texts) / batch_seconds, 1) if batch_seconds else 0.0,
        "p95_single_ms": round(singles[int(0.95 * (len(singles) - 1))], 2) if singles else 0.0,
        "test_rows": len(test.texts),
        "trained_rows": model.trained_rows,
        "classes_learned": len(model.labels),
    }


def _mean(results: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("accuracy", "macro_f1", "train_seconds", "predict_per_second", "p95_single_ms")
    summary: dict[str, Any] = {
        key: round(statistics.fmean(r[key] for r in results), 4) for key in keys
    }
    summary["coverage_at_precision"] = {
        target: round(statistics.fmean(r["coverage_at_precision"][target] for r in results), 4)
        for target in results[0]["coverage_at_precision"]
    }
    summary["test_rows"] = sum(r["test_rows"] for r in results)
    return summary
