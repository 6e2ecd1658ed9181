"""Training the local triage classifier on the mirrored history, and predicting with it.

Each prediction is recorded with the model version, confidence and latency; turning
predictions into proposals for the governance gate is the pipeline's job.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from sklearn.model_selection import train_test_split

from automation.classifier import (
    ALGORITHM,
    LocalClassifier,
    classifier_train,
    subtype_label,
    ticket_context,
    ticket_text,
)
from automation.evaluation import PRECISION_TARGETS, accuracy, coverage_at_precision, macro_f1
from automation.llm import llm_enabled
from automation.llm_triage import llm_triage_predict, triage_taxonomy
from automation.models import TriageModel, TriagePrediction
from automation.triage_eval import Dataset
from tickets.models import Ticket

HOLDOUT_SHARE = 0.15
HISTORY_DAYS = 365

# target -> the label a finished ticket teaches
_LABELS: dict[str, Callable[[Ticket], str | None]] = {
    TriageModel.Target.TYPE: lambda t: t.type.slug if t.type else None,
    TriageModel.Target.SUBTYPE: lambda t: (
        subtype_label(t.type.slug, t.subtype.name) if t.type and t.subtype else None
    ),
    TriageModel.Target.PRIORITY: lambda t: str(t.priority),
    TriageModel.Target.QUEUE: lambda t: t.queue.slug if t.queue else None,
}


def _history(target: str, now: dt.datetime) -> QuerySet[Ticket]:
    """Tickets people finished in the last year: their final type, priority and queue are the
    labels (a technician's correction is already in them)."""
    tickets = Ticket.objects.filter(
        status__in=Ticket.DONE_STATUSES, opened_at__gte=now - dt.timedelta(days=HISTORY_DAYS)
    )
    if target == TriageModel.Target.TYPE:
        tickets = tickets.filter(type__isnull=False).select_related("type")
    elif target == TriageModel.Target.SUBTYPE:
        tickets = tickets.filter(subtype__isnull=False).select_related("type", "subtype")
    elif target == TriageModel.Target.QUEUE:
        tickets = tickets.filter(queue__isnull=False).select_related("queue")
    return tickets.only(
        "summary",
        "description",
        "priority",
        "client",
        "contact",
        "source",
        "type__slug",
        "subtype__name",
        "queue__slug",
    )


def training_set(target: str, *, now: dt.datetime | None = None) -> Dataset:
    moment = now or timezone.now()
    label_of = _LABELS[target]
    texts, labels, contexts = [], [], []
    for ticket in _history(target, moment).iterator(chunk_size=2000):
        label = label_of(ticket)
        if label:
            texts.append(ticket_text(ticket))
            labels.append(label)
            contexts.append(ticket_context(ticket))
    return Dataset(texts, labels, contexts)


def triage_model_train(*, target: str, now: dt.datetime | None = None) -> TriageModel:
    """Train a new version on all but a held-out share of the history, measure it on that
    share, and make it the active version. Raises NotEnoughHistory."""
    moment = now or timezone.now()
    data = training_set(target, now=moment)
    if len(data.texts) >= 20:
        train_index, test_index = train_test_split(
            list(range(len(data.texts))), test_size=HOLDOUT_SHARE, random_state=7
        )
        train, test = data.subset(train_index), data.subset(test_index)
    else:
        train, test = data, Dataset([], [], [])
    model = classifier_train(train.texts, train.labels, train.contexts)
    version = f"triage-{target}-{moment:%Y%m%d%H%M%S}"
    stored = TriageModel.objects.create(
        target=target,
        version=version,
        algorithm=ALGORITHM,
        trained_at=moment,
        trained_rows=model.trained_rows,
        labels=list(model.labels),
        metrics=_holdout_metrics(model, test),
        train_seconds=round(model.train_seconds, 3),
        artifact=model.to_bytes(),
    )
    TriageModel.objects.filter(target=target, is_active=True).exclude(pk=stored.pk).update(
        is_active=False
    )
    return stored


def _holdout_metrics(model: LocalClassifier, test: Dataset) -> dict[str, object]:
    if not test.texts:
        return {"holdout_rows": 0}
    predictions = model.predict(test.texts, test.contexts)
    predicted = [p.label for p in predictions]
    correct = [p == t for p, t in zip(predicted, test.labels, strict=True)]
    confidences = [p.confidence for p in predictions]
    return {
        "holdout_rows": len(test.texts),
        "accuracy": round(accuracy(test.labels, predicted), 4),
        "macro_f1": round(macro_f1(test.labels, predicted), 4),
        "coverage_at_precision": {
            f"{target:.2f}": round(coverage_at_precision(confidences, correct, target), 4)
            for target in PRECISION_TARGETS
        },
    }


_LOADED: dict[str, tuple[str, LocalClassifier]] = {}  # target -> (version, fitted model)
_LOADING = threading.Lock()


def _classifier(model: TriageModel) -> LocalClassifier:
    """Fitted models stay loaded per process, one per target: a new version replaces the old
    one on its first use."""
    with _LOADING:
        loaded = _LOADED.get(model.target)
        if loaded is None or loaded[0] != model.version:
            artifact = TriageModel.objects.values_list("artifact", flat=True).get(pk=model.pk)
            loaded = (model.version, LocalClassifier.from_bytes(bytes(artifact)))
            _LOADED[model.target] = loaded
        return loaded[1]


def active_models() -> list[TriageModel]:
    latest: dict[str, TriageModel] = {}
    active = TriageModel.objects.filter(is_active=True).defer("artifact")
    for model in active.order_by("-trained_at", "-id"):
        latest.setdefault(model.target, model)
    return list(latest.values())


def triage_predict(*, ticket: Ticket, now: dt.datetime | None = None) -> list[TriagePrediction]:
    """Predict every target that has an active model, and record each prediction. A ticket
    already predicted by a model version keeps that prediction (re-running is a no-op)."""
    return triage_predict_many(tickets=[ticket], now=now)[ticket.id]


def triage_predict_many(
    *, tickets: Sequence[Ticket], now: dt.datetime | None = None
) -> dict[int, list[TriagePrediction]]:
    """Like triage_predict for many tickets at once: one batch per model, which is where the
    local classifier is fast. Each prediction's latency is its share of the batch."""
    moment = now or timezone.now()
    models = active_models()
    results: dict[int, list[TriagePrediction]] = {ticket.id: [] for ticket in tickets}
    done: dict[tuple[int, int], TriagePrediction] = {
        (p.ticket_id, p.model_id or 0): p
        for p in TriagePrediction.objects.filter(ticket__in=tickets, model__in=models)
    }
    for model in models:
        todo = [t for t in tickets if (t.id, model.id) not in done]
        started = time.perf_counter()
        answers = (
            _classifier(model).predict(
                [ticket_text(t) for t in todo], [ticket_context(t) for t in todo]
            )
            if todo
            else []
        )
        share = (time.perf_counter() - started) * 1000 / max(1, len(todo))
        created = TriagePrediction.objects.bulk_create(
            [
                TriagePrediction(
                    ticket=ticket,
                    model=model,
                    model_version=model.version,
                    target=model.target,
                    label=answer.label,
                    confidence=round(answer.confidence, 4),
                    alternatives=[[label, round(score, 4)] for label, score in answer.alternatives],
                    latency_ms=round(share, 2),
                    created_at=moment,
                )
                for ticket, answer in zip(todo, answers, strict=True)
            ]
        )
        for prediction in created:
            done[(prediction.ticket_id, model.id)] = prediction
        for ticket in tickets:
            results[ticket.id].append(done[(ticket.id, model.id)])
    if not llm_enabled():
        return results
    return _with_llm(tickets, results)


def _with_llm(
    tickets: Sequence[Ticket], local: dict[int, list[TriagePrediction]]
) -> dict[int, list[TriagePrediction]]:
    """With an LLM configured, its validated answer replaces the local predictions (which
    stand whenever it fails). A ticket it already answered is not asked again; its earlier
    answers and the taxonomy are read once for the batch."""
    earlier: dict[int, dict[str, TriagePrediction]] = {}
    for prediction in TriagePrediction.objects.filter(
        ticket__in=tickets, source=TriagePrediction.Source.LLM, model_version=settings.LLM_MODEL
    ):
        earlier.setdefault(prediction.ticket_id, {})[prediction.target] = prediction
    taxonomy = triage_taxonomy()
    results: dict[int, list[TriagePrediction]] = {}
    for ticket in tickets:
        answered = earlier.get(ticket.id)
        if answered:
            results[ticket.id] = [answered.get(p.target, p) for p in local[ticket.id]]
        else:
            results[ticket.id] = llm_triage_predict(
                ticket=ticket, local=local[ticket.id], taxonomy=taxonomy
            )
    return results
