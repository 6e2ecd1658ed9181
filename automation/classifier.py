"""The local triage classifier: the embedded default, trained on the MSP's own history, with no
network and no API key.

One function trains it (`classifier_train`), used both by `train_triage` on the mirrored
tickets and by `evaluate_triage` on a CSV, so an evaluation measures exactly what production
runs. The fitted model predicts a label with a calibrated confidence and the runners-up, and
serialises to bytes for the `TriageModel` table.
"""

from __future__ import annotations

import io
import re
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

ALGORITHM = "tfidf-word-char+calibrated-linear-svm"
MIN_TRAINING_ROWS = 50
# Calibration fits on three folds, so a class needs two examples per fold to be learned.
MIN_ROWS_PER_CLASS = 6
TEXT_LIMIT = 20_000  # characters of one ticket's text the model reads

_EMAIL = re.compile(r"\S+@\S+")
_RECEIVED_FROM = re.compile(r"received from:\s*\S+", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def ticket_text(ticket: Any) -> str:
    """What the classifiers read of a ticket: the summary, then the description."""
    return f"{ticket.summary}\n\n{ticket.description}"


class NotEnoughHistory(ValueError):
    """Too little labelled history to train: the pipeline uses rules only until there is."""


def clean_text(text: str) -> str:
    """Lower-case, without e-mail addresses and mail-header noise, digits collapsed, so that
    the model learns words rather than ids."""
    text = (text or "")[:TEXT_LIMIT]
    text = _RECEIVED_FROM.sub(" ", text)
    text = _EMAIL.sub(" emailaddress ", text)
    text = _DIGITS.sub("0", text.lower())
    return _SPACE.sub(" ", text).strip()


def build_pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=300_000,
                ),
            ),
        ]
    )
    model = CalibratedClassifierCV(LinearSVC(C=0.5, class_weight="balanced"), cv=3)
    return Pipeline([("features", features), ("model", model)])


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]  # the runners-up, most likely first


@dataclass
class LocalClassifier:
    pipeline: Pipeline
    labels: tuple[str, ...]
    trained_rows: int
    train_seconds: float
    dropped_rare: int  # training rows of classes too rare to learn, left out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        cleaned = [clean_text(text) for text in texts]
        if not cleaned:
            return []
        probabilities = self.pipeline.predict_proba(cleaned)
        classes = self.pipeline.classes_
        predictions = []
        for row in probabilities:
            order = np.argsort(row)[::-1][:3]
            predictions.append(
                Prediction(
                    label=str(classes[order[0]]),
                    confidence=float(row[order[0]]),
                    alternatives=tuple((str(classes[i]), float(row[i])) for i in order[1:]),
                )
            )
        return predictions

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self, buffer)
        return zlib.compress(buffer.getvalue(), level=6)

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalClassifier:
        loaded: Any = joblib.load(io.BytesIO(zlib.decompress(data)))
        if not isinstance(loaded, cls):
            raise TypeError("The stored artifact is not a LocalClassifier.")
        return loaded


def classifier_train(texts: Sequence[str], labels: Sequence[str]) -> LocalClassifier:
    """Fit the classifier. Classes with fewer than MIN_ROWS_PER_CLASS rows cannot be learned
    (nor calibrated) and are left out of training; at prediction they are simply never
    answered. Raises NotEnoughHistory when too little is left to train on."""
    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    counts = Counter(labels)
    keep = [i for i, label in enumerate(labels) if counts[label] >= MIN_ROWS_PER_CLASS]
    kept_labels = [labels[i] for i in keep]
    if len(keep) < MIN_TRAINING_ROWS or len(set(kept_labels)) < 2:
        raise NotEnoughHistory(
            f"Training needs at least {MIN_TRAINING_ROWS} labelled tickets in two or more "
            f"classes with {MIN_ROWS_PER_CLASS}+ tickets each; there are {len(keep)} "
            f"usable of {len(texts)}."
        )
    started = time.perf_counter()
    pipeline = build_pipeline()
    pipeline.fit([clean_text(texts[i]) for i in keep], kept_labels)
    return LocalClassifier(
        pipeline=pipeline,
        labels=tuple(str(c) for c in pipeline.classes_),
        trained_rows=len(keep),
        train_seconds=time.perf_counter() - started,
        dropped_rare=len(texts) - len(keep),
    )
