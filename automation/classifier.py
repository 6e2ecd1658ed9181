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
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

ALGORITHM = "tfidf-word0.7-char1.4-short0.7+context0.7+soft-balanced-svm+0.5nbsvm+platt-margin"
MIN_TRAINING_ROWS = 50
TEXT_LIMIT = 20_000  # characters of one ticket's text the model reads
# Share of the training rows held back to fit the confidence mapping before the final refit.
CONFIDENCE_SHARE = 0.15
FEATURE_WEIGHTS = {"words": 0.7, "chars": 1.4, "summary": 0.7, "context": 0.7}
NB_WEIGHT = 0.5  # the NBSVM's share beside the multi-class SVM (SoftBalancedSvm)

_RECEIVED_FROM = re.compile(r"received from:\s*\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HEADER = re.compile(r"(?im)^\s*(?:from|sent|to|cc|date|importance)\s*:.*$")
_SUBJECT = re.compile(r"(?im)^\s*subject\s*:")
_MOJIBAKE = {"â€¦": " ", "â€™": "'", "â€œ": '"', "â€\x9d": '"', "â€“": "-", "â€”": "-", "Â": " "}
_SPACE = re.compile(r"\s+")
_WORD_PATTERN = r"(?u)\b\w[\w.]*\w\b|\b\w\b"  # keeps sid_34, host_221.example.com as tokens


def clean_text(text: str) -> str:
    """Lower-case, without mail-header noise and addresses. Digits, ids and host names stay:
    collapsing them cost three points of accuracy (job and host numbers identify the team)."""
    text = (text or "")[:TEXT_LIMIT]
    for bad, good in _MOJIBAKE.items():
        text = text.replace(bad, good)
    text = _RECEIVED_FROM.sub(" ", text)
    text = _HEADER.sub(" ", text)
    text = _SUBJECT.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    return _SPACE.sub(" ", text.replace("\u00a0", " ")).strip().lower()


def subtype_label(type_slug: str, subtype_name: str) -> str:
    """A subtype as the classifier names it: unique across types, stable across retrains."""
    return f"{type_slug}/{subtype_name}"


def ticket_text(ticket: Any) -> str:
    """What the classifiers read of a ticket: the summary, a blank line, the description."""
    return f"{ticket.summary}\n\n{ticket.description}"


def ticket_context(ticket: Any) -> str:
    """Where a ticket comes from, as tokens the classifier reads beside the text: the client,
    the contact and the channel. The same words are routed differently for different clients
    and sites (docs/research/triage-classifier.md, fifth round), and the text cannot say which."""
    tokens = [f"client={ticket.client_id}", f"source={ticket.source}"]
    if ticket.contact_id:
        tokens.append(f"contact={ticket.contact_id}")
    return " ".join(tokens)


def _parts(text: str) -> tuple[str, str]:
    if isinstance(text, _Parsed):
        return text.parts
    short, _, rest = (text or "").partition("\n\n")
    return clean_text(short), clean_text(rest)


class _Parsed(str):
    """A ticket text that cleans itself once: the three text feature blocks each read a view of
    it, and cleaning three times was a third of the prediction time. It carries the ticket's
    context tokens for the context block."""

    parts: tuple[str, str]
    context: tuple[str, ...]

    def __new__(cls, text: str, context: str = "") -> _Parsed:
        parsed = super().__new__(cls, (text or "")[: TEXT_LIMIT * 2])
        short, _, rest = str(parsed).partition("\n\n")
        parsed.parts = (clean_text(short), clean_text(rest))
        parsed.context = tuple((context or "").split())
        return parsed


def _parsed(texts: Sequence[str], contexts: Sequence[str] | None = None) -> list[str]:
    pairs = zip(texts, contexts if contexts is not None else [""] * len(texts), strict=True)
    return [t if isinstance(t, _Parsed) else _Parsed(t, context) for t, context in pairs]


class TextView(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """'text': summary and description (the description alone when it repeats the summary);
    'short': the summary alone, which carries more signal per word."""

    def __init__(self, view: str = "text") -> None:
        self.view = view

    def fit(self, texts: Sequence[str], labels: Any = None) -> TextView:
        return self

    def transform(self, texts: Sequence[str]) -> list[str]:
        views = []
        for text in texts:
            short, rest = _parts(text)
            if self.view == "short":
                views.append(short)
            else:
                views.append(rest if short and rest.startswith(short) else f"{short} . {rest}")
        return views


def _char_grams(word: str, low: int, high: int) -> list[str]:
    """The char_wb n-grams of one word, as TfidfVectorizer(analyzer="char_wb") makes them."""
    padded = f" {word} "
    grams = []
    for size in range(low, high + 1):
        offset = 0
        grams.append(padded[0:size])
        while offset + size < len(padded):
            offset += 1
            grams.append(padded[offset : offset + size])
        if offset == 0:
            break
    return grams


class _CharAnalyzer:
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def __call__(self, doc: str) -> list[str]:
        return [g for word in doc.lower().split() for g in _char_grams(word, self.low, self.high)]


class CharTfidf(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """The same features as TfidfVectorizer(analyzer="char_wb", sublinear_tf=True), with the
    word → column ids memoised at transform time: ~4x faster, and the character analyser was
    the slowest step of the whole pipeline."""

    def __init__(self, low: int = 2, high: int = 5, min_df: int = 2) -> None:
        self.low, self.high, self.min_df = low, high, min_df

    def fit(self, docs: Sequence[str], labels: Any = None) -> CharTfidf:
        self.vectorizer_ = TfidfVectorizer(
            analyzer=_CharAnalyzer(self.low, self.high),
            sublinear_tf=True,
            min_df=self.min_df,
            dtype=np.float32,
        ).fit(docs)
        self.idf_ = self.vectorizer_.idf_.astype(np.float32)
        self._word_columns: dict[str, list[int]] = {}
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_word_columns"] = {}  # a cache, not part of the model
        return state

    def transform(self, docs: Sequence[str]) -> Any:
        vocabulary = self.vectorizer_.vocabulary_
        cache = self._word_columns
        columns: list[int] = []
        indptr = [0]
        for doc in docs:
            count = 0
            for word in doc.lower().split():
                ids = cache.get(word)
                if ids is None:
                    grams = _char_grams(word, self.low, self.high)
                    ids = [vocabulary[g] for g in grams if g in vocabulary]
                    if len(cache) < 500_000:
                        cache[word] = ids
                columns.extend(ids)
                count += len(ids)
            indptr.append(indptr[-1] + count)
        matrix = _ones(columns, indptr, len(vocabulary))
        matrix.sum_duplicates()
        np.log(matrix.data, out=matrix.data)
        matrix.data += 1  # sublinear tf: 1 + log(count)
        matrix = matrix.multiply(self.idf_).tocsr()
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(1)).ravel())
        norms[norms == 0] = 1
        return sparse.diags(1 / norms).dot(matrix).tocsr().astype(np.float32)


class ContextTokens(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """One column per context token (client=…, contact=…, source=…) seen at least `min_count`
    times in training, 1.0 where a ticket has it. Tickets without context get an empty row,
    and a model trained without any context has no columns here: text-only models are
    unchanged. A contact with a single past ticket still counts: on the it-incidents callers,
    dropping tokens seen once gave 0.434 coverage at 95% precision instead of 0.445."""

    def __init__(self, min_count: int = 1) -> None:
        self.min_count = min_count

    def fit(self, texts: Sequence[str], labels: Any = None) -> ContextTokens:
        counts = Counter(token for text in texts for token in getattr(text, "context", ()))
        kept = sorted(token for token, count in counts.items() if count >= self.min_count)
        self.vocabulary_ = {token: index for index, token in enumerate(kept)}
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        vocabulary = self.vocabulary_
        columns: list[int] = []
        indptr = [0]
        for text in texts:
            ids = {vocabulary[t] for t in getattr(text, "context", ()) if t in vocabulary}
            columns.extend(sorted(ids))
            indptr.append(len(columns))
        return _ones(columns, indptr, len(vocabulary))


def _ones(columns: list[int], indptr: list[int], width: int) -> Any:
    """A CSR matrix with 1.0 at each row's columns (a repeated column is a repeated entry)."""
    return sparse.csr_matrix(
        (
            np.ones(len(columns), np.float32),
            np.asarray(columns, dtype=np.int32),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(indptr) - 1, width),
    )


class SoftBalancedSvm(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """A linear SVM whose class weights are (n / (k · count)) ** power: rare groups count for
    more without the accuracy lost to fully balanced weights (power 0.5 lifted macro-F1 by six
    points on the it-incidents data at the same accuracy).

    With `nb_weight`, an NBSVM (Wang & Manning 2012) is added to it: per class, a binary SVM on
    the features scaled by their log-count ratio for that class, its scores times `nb_weight`
    added to the multi-class SVM's. Both are linear, so the sum is one weight matrix and
    prediction costs the same; training fits one more SVM per class. On it-incidents with the
    caller as context it lifted coverage at 95% precision by 0.003 / 0.023 (fold seeds 7 / 11)
    at the same accuracy and macro-F1 (docs/research/triage-classifier.md, fifth round)."""

    def __init__(
        self,
        c: float = 0.5,
        power: float = 0.5,
        nb_weight: float = 0.0,
        nb_c: float = 0.3,
        nb_alpha: float = 1.0,
    ) -> None:
        self.c, self.power = c, power
        self.nb_weight, self.nb_c, self.nb_alpha = nb_weight, nb_c, nb_alpha

    def fit(self, features: Any, labels: Sequence[str]) -> SoftBalancedSvm:
        # Fit on class indices: sklearn mishandles class weights keyed by labels such as
        # "1".."4" (priorities), which it reads back as numbers.
        classes, y, counts = np.unique(
            np.asarray(labels, dtype=str), return_inverse=True, return_counts=True
        )
        weights = (len(y) / (len(classes) * counts)) ** self.power
        svm = LinearSVC(C=self.c, class_weight=dict(enumerate(weights.tolist())))
        svm.fit(features, y)
        self.classes_ = classes
        # Only the folded weights are kept: the stored model is one matrix, not two.
        coef = np.asarray(svm.coef_, dtype=np.float64)
        intercept = np.asarray(svm.intercept_, dtype=np.float64)
        if self.nb_weight:
            # Two classes: LinearSVC has one row, for class 1 against class 0.
            positives = list(range(len(classes))) if len(classes) > 2 else [1]
            nb_coef, nb_intercept = self._nb_fit(features, y, weights, positives)
            coef = coef + self.nb_weight * nb_coef
            intercept = intercept + self.nb_weight * nb_intercept
        # Stored (features × classes), C-contiguous: `features @ weights_` then reads it as is.
        # (k × d).T made scipy copy the whole matrix on every call: 48 ms for one ticket.
        self.weights_, self.intercept_ = np.ascontiguousarray(coef.T), intercept
        return self

    def _nb_fit(self, features: Any, y: Any, weights: Any, positives: list[int]) -> tuple[Any, Any]:
        """Per positive class: r = log-count ratio of the binarised features (smoothed by
        nb_alpha), a binary soft-balanced SVM on features ⊙ r; its weights folded back as r ⊙ w."""
        matrix = sparse.csr_matrix(features, dtype=np.float64)
        present = matrix.copy()
        present.data[:] = 1.0
        total = np.asarray(present.sum(0)).ravel()
        coef = np.zeros((len(positives), matrix.shape[1]))
        intercept = np.zeros(len(positives))
        for row, label in enumerate(positives):
            inside = y == label
            in_class = np.asarray(present[inside].sum(0)).ravel()
            p = self.nb_alpha + in_class
            q = self.nb_alpha + (total - in_class)
            ratio = np.log(p / p.sum()) - np.log(q / q.sum())
            scaled = matrix.copy()
            scaled.data *= ratio[scaled.indices]
            svm = LinearSVC(C=self.nb_c, class_weight={0: 1.0, 1: float(weights[label])})
            svm.fit(scaled, inside.astype(int))
            coef[row] = ratio * svm.coef_.ravel()
            intercept[row] = svm.intercept_[0]
        return coef, intercept

    def decision_function(self, features: Any) -> Any:
        weights = getattr(self, "weights_", None)
        if weights is None:  # a model stored before the weights were folded in kept its SVM
            scores = self.svm_.decision_function(features)
        else:
            scores = np.asarray(features @ weights) + self.intercept_
            scores = scores.ravel() if weights.shape[1] == 1 else scores
        return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores

    def predict(self, features: Any) -> Any:
        return self.classes_[self.decision_function(features).argmax(1)]


def build_pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            (
                "words",
                Pipeline(
                    [
                        ("view", TextView("text")),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                ngram_range=(1, 2),
                                sublinear_tf=True,
                                token_pattern=_WORD_PATTERN,
                                dtype=np.float32,
                            ),
                        ),
                    ]
                ),
            ),
            ("chars", Pipeline([("view", TextView("text")), ("tfidf", CharTfidf(2, 5))])),
            (
                "summary",
                Pipeline(
                    [
                        ("view", TextView("short")),
                        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                    ]
                ),
            ),
            ("context", ContextTokens()),
        ],
        # Block weights: character n-grams up, words and summary down. evaluate_triage --cv 5 on
        # it-incidents, mean of seeds 7 and 11: +0.4 accuracy points, +0.7 macro-F1, +1.4
        # coverage at 95% precision (docs/research/triage-classifier.md, 2026-11-27 section).
        transformer_weights=FEATURE_WEIGHTS,
    )
    model = SoftBalancedSvm(c=0.5, power=0.5, nb_weight=NB_WEIGHT)
    return Pipeline([("features", features), ("model", model)])


def _margins(pipeline: Pipeline, texts: Sequence[str]) -> tuple[Any, Any, Any]:
    """Per (parsed) text: the index of the best class, the gap to the runner-up, and all
    scores."""
    scores = pipeline.decision_function(_parsed(texts))
    best = scores.argmax(1)
    top_two = np.partition(scores, -2, axis=1)[:, -2:]
    return best, top_two[:, 1] - top_two[:, 0], scores


@dataclass
class ConfidenceMap:
    """P(the answer is right) from the margin gap: a logistic fit on held-back rows. Monotone,
    so ranking by confidence is ranking by margin — what coverage at precision needs."""

    slope: float
    intercept: float

    def __call__(self, gap: Any) -> Any:
        return 1 / (1 + np.exp(-(self.slope * np.asarray(gap) + self.intercept)))


def _fit_confidence(gaps: Any, correct: Any) -> ConfidenceMap:
    if len(set(correct.tolist())) < 2:  # all right or all wrong on the held-back rows
        rate = float(np.mean(correct)) if len(correct) else 0.5
        rate = min(max(rate, 0.01), 0.99)
        return ConfidenceMap(slope=1.0, intercept=float(np.log(rate / (1 - rate))))
    fit = LogisticRegression().fit(np.asarray(gaps).reshape(-1, 1), correct)
    return ConfidenceMap(slope=float(fit.coef_[0][0]), intercept=float(fit.intercept_[0]))


class NotEnoughHistory(ValueError):
    """Too little labelled history to train: the pipeline uses rules only until there is."""


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]  # the runners-up, most likely first


@dataclass
class LocalClassifier:
    pipeline: Pipeline
    confidence: ConfidenceMap
    labels: tuple[str, ...]
    trained_rows: int
    train_seconds: float

    def predict(
        self, texts: Sequence[str], contexts: Sequence[str] | None = None
    ) -> list[Prediction]:
        """`contexts`: each ticket's `ticket_context`, when the model was trained with them."""
        if not texts:
            return []
        best, gaps, scores = _margins(self.pipeline, _parsed(texts, contexts))
        confidences = self.confidence(gaps)
        classes = self.pipeline.classes_
        predictions = []
        for row, index, confidence in zip(scores, best, confidences, strict=True):
            runners = np.argsort(row)[::-1][1:3]
            predictions.append(
                Prediction(
                    label=str(classes[index]),
                    confidence=float(confidence),
                    # How far each runner-up is from the answer, as the same kind of number.
                    alternatives=tuple(
                        (str(classes[i]), float(self.confidence(row[i] - row[index])))
                        for i in runners
                    ),
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


def classifier_train(
    texts: Sequence[str], labels: Sequence[str], contexts: Sequence[str] | None = None
) -> LocalClassifier:
    """Fit the classifier: first on all but CONFIDENCE_SHARE of the rows, to learn how the
    margin on unseen tickets maps to being right; then on every row. `contexts` are the
    tickets' `ticket_context` tokens (optional). Raises NotEnoughHistory when there is too
    little to learn from."""
    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    if len(texts) < MIN_TRAINING_ROWS or len(set(labels)) < 2:
        raise NotEnoughHistory(
            f"Training needs at least {MIN_TRAINING_ROWS} labelled tickets in two or more "
            f"classes; there are {len(texts)} in {len(set(labels))}."
        )
    started = time.perf_counter()
    order = np.random.default_rng(7).permutation(len(texts))
    cut = max(1, int(len(texts) * CONFIDENCE_SHARE))
    held, kept = order[:cut], order[cut:]
    parsed = _parsed(texts, contexts)
    first = build_pipeline().fit([parsed[i] for i in kept], [labels[i] for i in kept])
    best, gaps, _ = _margins(first, [parsed[i] for i in held])
    correct = np.asarray([first.classes_[b] == labels[i] for b, i in zip(best, held, strict=True)])
    confidence = _fit_confidence(gaps, correct)
    pipeline = build_pipeline().fit(parsed, list(labels))
    return LocalClassifier(
        pipeline=pipeline,
        confidence=confidence,
        labels=tuple(str(c) for c in pipeline.classes_),
        trained_rows=len(texts),
        train_seconds=time.perf_counter() - started,
    )
