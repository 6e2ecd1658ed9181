"""Triage speed: the local classifier on real incidents, and the pipeline on PostgreSQL.

    python -m bench.triage

1. Classifier: trains on 80% of the it-incidents data (`TRIAGE_DATASET`, default
   ../shared/datasets/it-incidents/dev.csv; skipped if absent) exactly as production does,
   then measures batch predictions per second on the other 20% and the p95 latency of one
   ticket at a time. Accuracy is for `evaluate_triage --cv 5`, not this bench.
2. Pipeline (needs DATABASE_URL=postgres://…; `make bench` starts one): in a fresh database,
   seeds the demo MSP and its triage rules, trains the four targets with `train_triage`'s
   function, then runs rules, triage and dispatch with every proposal through the gate on
   BENCH_PIPELINE_TICKETS new tickets twice: in batches of 100 in this process (a warm
   worker), and end to end through intake's hook and a django-q2 cluster (Q_WORKERS
   workers, ORM broker) from the commit that queues them to the last task's success.

The last line of output is one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.child import cluster_start, run_in_fresh_database
from bench.ticket_list import _percentile

DATASET = Path(
    os.environ.get(
        "TRIAGE_DATASET",
        str(Path(__file__).resolve().parents[2] / "shared/datasets/it-incidents/dev.csv"),
    )
)
SINGLE_SAMPLES = 300
PIPELINE_TASK = "automation.tasks.pipeline_run_batch"


def classifier_speed() -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    from automation.classifier import ALGORITHM, classifier_train
    from automation.triage_eval import dataset_load

    if not DATASET.exists():
        return {"skipped": f"{DATASET} not found (set TRIAGE_DATASET)"}
    data = dataset_load(
        DATASET, text_columns=["Short description", "Description"], label="Assignment group"
    )
    train_index, test_index = train_test_split(
        list(range(len(data.texts))), test_size=0.2, random_state=7
    )
    train, test = data.subset(train_index), data.subset(test_index)
    model = classifier_train(train.texts, train.labels)
    started = time.perf_counter()
    model.predict(test.texts)
    batch_seconds = time.perf_counter() - started
    singles = []
    for text in test.texts[:SINGLE_SAMPLES]:
        one = time.perf_counter()
        model.predict([text])
        singles.append((time.perf_counter() - one) * 1000)
    return {
        "algorithm": ALGORITHM,
        "train_rows": len(train.texts),
        "train_seconds": round(model.train_seconds, 2),
        "batch_rows": len(test.texts),
        "batch_per_second": round(len(test.texts) / batch_seconds, 1),
        "single_median_ms": round(statistics.median(singles), 2),
        "single_p95_ms": round(_percentile(singles, 0.95), 2),
    }


def pipeline_speed(tickets: int) -> dict[str, Any]:
    """Runs in the child process against its own fresh database."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import Count
    from django.utils import timezone

    from automation.demo import seed_rules_demo
    from automation.models import TriageModel
    from automation.pipeline import pipeline_run_many
    from automation.services import triage_model_train
    from governance.models import Action
    from tickets.demo.seed import seed_demo
    from tickets.models import Ticket

    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    seed_demo(seed=7, tickets=15_000, months=6, now=now, progress=sys.stderr.isatty())
    seed_rules_demo()
    trained = {}
    for target in TriageModel.Target.values:
        model = triage_model_train(target=target)
        trained[target] = {
            "rows": model.trained_rows,
            "seconds": model.train_seconds,
            "holdout": model.metrics,
        }
    # The most recent tickets, reopened as new and unassigned: half run in this process
    # (a warm worker's batches), half go through intake's hook and the django-q2 cluster.
    ids = list(Ticket.objects.order_by("-opened_at").values_list("id", flat=True)[: 2 * tickets])
    Ticket.objects.filter(id__in=ids).update(status=Ticket.Status.NEW, assignee=None)
    direct, background = ids[:tickets], ids[tickets:]
    pipeline_run_many(ticket_ids=direct[:100])  # load the four models, as a warm worker has
    started = time.perf_counter()
    for start in range(100, len(direct), 100):
        pipeline_run_many(ticket_ids=direct[start : start + 100])
    direct_seconds = time.perf_counter() - started
    result = {
        "trained": trained,
        "rules": 4,
        "direct_tickets": len(direct) - 100,
        "direct_seconds": round(direct_seconds, 2),
        "direct_tickets_per_second": round((len(direct) - 100) / direct_seconds, 1),
        **_through_the_cluster(background),
    }
    result["proposals"] = dict(
        Action.objects.values_list("kind").annotate(count=Count("id")).order_by()
    )
    result["proposal_statuses"] = dict(
        Action.objects.values_list("status").annotate(count=Count("id")).order_by()
    )
    return result


def _through_the_cluster(ids: list[int]) -> dict[str, Any]:
    """Intake's hook queues pipeline tasks (100 tickets each); a `qcluster` with the
    configured workers runs them. Timed from the commit that queues them to the last task's
    success, after a warm-up batch per worker has loaded the models."""
    from django.db import transaction
    from django_q.models import Task

    from tickets.signals import tickets_arrived_send

    workers = int(os.environ.get("Q_WORKERS", "2"))
    cluster = cluster_start()
    try:
        warm, measured = ids[: 20 * workers], ids[20 * workers :]
        _queue_and_wait(warm, batch=20, send=tickets_arrived_send)
        tasks_before = Task.objects.filter(func=PIPELINE_TASK).count()
        started = time.perf_counter()
        with transaction.atomic():
            tickets_arrived_send(measured)
        _wait_for(tasks_before + -(-len(measured) // 100))
        seconds = time.perf_counter() - started
        failed = Task.objects.filter(func=PIPELINE_TASK, success=False).count()
    finally:
        cluster.terminate()
        cluster.wait(timeout=60)
    return {
        "cluster_workers": workers,
        "cluster_tickets": len(measured),
        "cluster_seconds": round(seconds, 2),
        "cluster_tickets_per_second": round(len(measured) / seconds, 1),
        "cluster_failed_tasks": failed,
    }


def _queue_and_wait(ids: list[int], *, batch: int, send: Any) -> None:
    from django.db import transaction
    from django_q.models import Task

    before = Task.objects.filter(func=PIPELINE_TASK).count()
    with transaction.atomic():
        for start in range(0, len(ids), batch):
            send(ids[start : start + batch])
    _wait_for(before + -(-len(ids) // batch))


def _wait_for(task_count: int, timeout: float = 600) -> None:
    from django_q.models import Task

    deadline = time.monotonic() + timeout
    while Task.objects.filter(func=PIPELINE_TASK).count() < task_count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cluster finished fewer than {task_count} tasks")
        time.sleep(0.05)


def main() -> None:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    result: dict[str, Any] = {"bench": "triage", "classifier": classifier_speed()}
    base_url = os.environ.get("DATABASE_URL", "")
    tickets = int(os.environ.get("BENCH_PIPELINE_TICKETS", "1000"))
    if base_url.startswith(("postgres://", "postgresql://")):
        print(f"bench.triage: pipeline on {tickets} tickets…", file=sys.stderr)
        result["pipeline"] = run_in_fresh_database("bench.triage", "bench_triage", tickets)
    else:
        result["pipeline"] = {"skipped": "needs DATABASE_URL=postgres://… (try `make bench`)"}
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(pipeline_speed(int(sys.argv[2]))))
    else:
        main()
