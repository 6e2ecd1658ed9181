"""`python manage.py evaluate_triage`: how well the local classifier predicts a column of your
own data. Trains exactly as production does; prints one JSON object with --json."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation.classifier import ALGORITHM, NotEnoughHistory
from automation.triage_eval import DatasetError, dataset_load, evaluate_cv, evaluate_split


class Command(BaseCommand):
    help = (
        "Evaluates the local triage classifier on a CSV: --train with --test, or --train with "
        "--cv K for K-fold cross-validation. Example: evaluate_triage --train dev.csv --cv 5 "
        '--text "Short description" --text "Description" --label "Assignment group" --json'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", type=Path, required=True, help="Training CSV.")
        split = parser.add_mutually_exclusive_group(required=True)
        split.add_argument("--test", type=Path, help="Test CSV with the same columns.")
        split.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation.")
        parser.add_argument(
            "--text",
            action="append",
            required=True,
            metavar="COLUMN",
            help="A text column; repeat for several (joined in order).",
        )
        parser.add_argument(
            "--field",
            action="append",
            default=[],
            metavar="COLUMN",
            help=(
                "A category column read beside the text (caller, client, site); repeat for "
                "several. Production reads each ticket's client, contact and source this way."
            ),
        )
        parser.add_argument("--label", required=True, metavar="COLUMN", help="Label column.")
        parser.add_argument("--seed", type=int, default=7, help="Fold shuffling seed (7).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object only.")

    def handle(self, *args: Any, **options: Any) -> None:
        columns = {
            "text_columns": options["text"],
            "label": options["label"],
            "field_columns": options["field"],
        }
        try:
            train = dataset_load(options["train"], **columns)
            if options["cv"] is not None:
                if not options["json"]:
                    self.stderr.write(f"Cross-validating on {len(train.texts):,} rows…")
                result = evaluate_cv(train, folds=options["cv"], seed=options["seed"])
            else:
                test = dataset_load(options["test"], **columns)
                result = evaluate_split(train, test)
        except (DatasetError, NotEnoughHistory) as error:
            raise CommandError(str(error)) from None
        result = {
            "algorithm": ALGORITHM,
            "mode": f"cv{options['cv']}" if options["cv"] is not None else "train/test",
            "train_rows": len(train.texts),
            "fields": options["field"],
            "machine": f"{platform.machine()} {platform.python_implementation()}",
            **result,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(json.dumps(result, indent=2))
