"""`python manage.py train_triage`: train new versions of the local triage classifier on the
mirrored history (also run weekly by django-q2)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from automation.classifier import NotEnoughHistory
from automation.models import TriageModel
from automation.services import triage_model_train


class Command(BaseCommand):
    help = (
        "Trains the local triage classifier (ticket type, priority, queue) on finished "
        "tickets of the last year, measures it on a held-out share and makes it active."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--target",
            action="append",
            choices=TriageModel.Target.values,
            help="Train only this target (repeatable; default: all).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        targets = options["target"] or list(TriageModel.Target.values)
        for target in targets:
            self.stderr.write(f"Training {target}…")
            try:
                model = triage_model_train(target=target)
            except NotEnoughHistory as error:
                self.stdout.write(f"{target}: not trained — {error} Rules only until then.")
                continue
            metrics = json.dumps(model.metrics)
            self.stdout.write(
                f"{target}: {model.version}, {model.trained_rows:,} tickets, "
                f"{len(model.labels)} classes, {model.train_seconds:.1f} s; held out: {metrics}"
            )
