"""The local triage classifier: training on the mirrored history, versions, predictions,
and the evaluation command on a CSV."""

from __future__ import annotations

import csv
import json
import random
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from automation.classifier import (
    ContextTokens,
    NotEnoughHistory,
    SoftBalancedSvm,
    _parsed,
    build_pipeline,
    classifier_train,
    clean_text,
)
from automation.models import TriageModel, TriagePrediction
from automation.services import triage_model_train, triage_predict
from automation.tests.helpers import triage_run, triage_run_many
from tests.fixtures import World, make_ticket
from tickets.models import Ticket, TicketType

VOCABULARY = {
    "password-reset": ["password", "expired", "reset", "locked out", "sign in", "login"],
    "printing": ["printer", "toner", "paper jam", "print queue", "spooler", "scanner"],
    "network": ["vpn", "wifi", "network", "switch", "latency", "dns"],
}


def _sentence(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.sample(words, 3)) + f" please help {rng.randint(1, 999)}"


def _history(world: World, per_type: int = 30) -> dict[str, TicketType]:
    rng = random.Random(3)
    types = {"password-reset": world.ticket_type}
    types["printing"] = TicketType.objects.create(name="Printing", slug="printing")
    types["network"] = TicketType.objects.create(name="Network", slug="network")
    for slug, ticket_type in types.items():
        for number in range(per_type):
            make_ticket(
                world.client,
                summary=_sentence(rng, VOCABULARY[slug]),
                external_id=f"{slug}-{number}",
                description=_sentence(rng, VOCABULARY[slug]),
                type=ticket_type,
                status=Ticket.Status.RESOLVED,
            )
    return types


@pytest.mark.django_db
def test_training_stores_a_version_that_predicts_and_records(world: World) -> None:
    _history(world)
    model = triage_model_train(target=TriageModel.Target.TYPE)
    assert model.is_active and model.version.startswith("triage-type-")
    assert set(model.labels) == {"password-reset", "printing", "network"}
    assert model.metrics["holdout_rows"] > 0 and model.metrics["accuracy"] >= 0.8

    fresh = make_ticket(
        world.client, summary="the printer has a paper jam and no toner", external_id="N-1"
    )
    [prediction] = [p for p in triage_predict(ticket=fresh) if p.target == TriageModel.Target.TYPE]
    assert prediction.label == "printing"
    assert 0 < prediction.confidence <= 1 and prediction.latency_ms > 0
    assert prediction.model == model
    assert TriagePrediction.objects.filter(ticket=fresh, model__version=model.version).exists()


@pytest.mark.django_db
def test_training_reads_each_tickets_client_beside_its_text(world: World) -> None:
    from tickets.models import Queue

    rng = random.Random(4)
    desks = {
        world.client: world.queue,
        world.other_client: Queue.objects.create(name="Globex desk", slug="globex"),
    }
    for client, queue in desks.items():
        for number in range(40):
            make_ticket(
                client,
                summary=_sentence(rng, VOCABULARY["printing"]),
                external_id=f"{client.identifier}-{number}",
                queue=queue,
                status=Ticket.Status.RESOLVED,
            )
    model = triage_model_train(target=TriageModel.Target.QUEUE)
    assert model.metrics["accuracy"] >= 0.9
    answers = {}
    for client in desks:
        fresh = make_ticket(client, summary="toner and paper jam", external_id=f"N-{client.pk}")
        [answer] = [p for p in triage_predict(ticket=fresh) if p.target == model.target]
        answers[client] = answer.label
    assert answers == {client: queue.slug for client, queue in desks.items()}


@pytest.mark.django_db
def test_a_new_version_replaces_the_active_one(world: World) -> None:
    import datetime as dt

    from django.utils import timezone

    _history(world)
    first = triage_model_train(target=TriageModel.Target.TYPE)
    second = triage_model_train(
        target=TriageModel.Target.TYPE, now=timezone.now() + dt.timedelta(minutes=1)
    )
    first.refresh_from_db()
    assert not first.is_active and second.is_active and first.version != second.version
    fresh = make_ticket(world.client, summary="vpn and dns latency", external_id="N-2")
    assert {p.model_id for p in triage_predict(ticket=fresh)} == {second.id}


@pytest.mark.django_db
def test_too_little_history_says_so(world: World) -> None:
    with pytest.raises(NotEnoughHistory) as error:
        triage_model_train(target=TriageModel.Target.TYPE)
    assert "at least" in str(error.value)
    out = StringIO()
    call_command("train_triage", "--target", "type", stdout=out, stderr=StringIO())
    assert "not trained" in out.getvalue() and "Rules only" in out.getvalue()


def test_cleaning_removes_mail_noise_and_ids() -> None:
    text = "received from: abc@x.com\nHi, SAP job 12345 failed for j.doe@acme.example"
    # Numbers stay: job, host and system ids tell which team handles a ticket.
    assert clean_text(text) == "hi, sap job 12345 failed for"


def _labelled(seed: int, per_type: int = 30) -> tuple[list[str], list[str]]:
    """Sentences from each type's vocabulary, with the type as the label."""
    rng = random.Random(seed)
    pairs = [(_sentence(rng, w), slug) for slug, w in VOCABULARY.items() for _ in range(per_type)]
    return [text for text, _ in pairs], [label for _, label in pairs]


def test_empty_huge_and_non_english_text_still_predict() -> None:
    texts, labels = _labelled(5)
    model = classifier_train(texts, labels)
    odd = ["", "x" * 100_000, "Drucker druckt nicht, Papierstau im Fach 2", "😀" * 50]
    predictions = model.predict(odd)
    assert len(predictions) == 4
    assert all(p.label in model.labels and 0 <= p.confidence <= 1 for p in predictions)


def _routed_by_client(seed: int) -> tuple[list[str], list[str], list[str]]:
    """The same printing requests, sent to a different desk by each client."""
    rng = random.Random(seed)
    texts, labels, contexts = [], [], []
    for client, desk in (("1", "desk-north"), ("2", "desk-south")):
        for _ in range(40):
            texts.append(_sentence(rng, VOCABULARY["printing"]))
            labels.append(desk)
            contexts.append(f"client={client} source=email")
    return texts, labels, contexts


def test_context_tokens_tell_apart_the_same_words_from_different_clients() -> None:
    texts, labels, contexts = _routed_by_client(11)
    probe = ["printer paper jam please help 5"] * 2
    where = ["client=1 source=email", "client=2 source=email"]
    north, south = classifier_train(texts, labels, contexts).predict(probe, where)
    assert (north.label, south.label) == ("desk-north", "desk-south")
    assert min(north.confidence, south.confidence) > 0.5
    # Trained on text alone, the model has no context columns: the context changes nothing.
    first, second = classifier_train(texts, labels).predict(probe, where)
    assert first == second


def test_context_tokens_are_columns_and_unknown_ones_are_ignored() -> None:
    tokens = ContextTokens().fit(_parsed(["a", "b", "c"], ["client=1 contact=7", "client=1", ""]))
    assert tokens.vocabulary_ == {"client=1": 0, "contact=7": 1}
    rows = tokens.transform(_parsed(["d", "e", "f"], ["contact=7 client=1", "client=9", ""]))
    assert rows.toarray().tolist() == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    assert ContextTokens(min_count=2).fit(_parsed(["a", "b"], ["x=1", "x=1 y=2"])).vocabulary_ == {
        "x=1": 0
    }


def test_the_nbsvm_part_classifies_and_folds_into_one_weight_matrix() -> None:
    import numpy as np

    texts, labels = _labelled(8)
    features = build_pipeline().named_steps["features"].fit_transform(_parsed(texts))
    truth = np.asarray(labels)
    scores = {w: SoftBalancedSvm(nb_weight=w).fit(features, labels) for w in (0.0, 1.0, 0.5)}
    # Scores are linear in the NBSVM's weight: one matrix, the SVM's plus w times the NBSVM's.
    zero, one, half = (scores[w].decision_function(features) for w in (0.0, 1.0, 0.5))
    assert not np.allclose(zero, one, atol=0.05)
    assert np.allclose(half, zero + 0.5 * (one - zero), atol=0.01)
    # The NBSVM part alone (the SVM's share made negligible) is a classifier in its own right.
    mostly_nb = SoftBalancedSvm(nb_weight=1000.0).fit(features, labels)
    assert (mostly_nb.predict(features) == truth).mean() >= 0.95
    # Two classes: one row of weights, scores for both.
    two = SoftBalancedSvm(nb_weight=0.5).fit(features[:60], labels[:60])
    assert two.decision_function(features[:60]).shape == (60, 2)
    assert (two.predict(features[:60]) == truth[:60]).mean() >= 0.95


def test_a_model_stored_before_the_folded_weights_still_predicts() -> None:
    import numpy as np
    from sklearn.svm import LinearSVC

    texts, labels = _labelled(9)
    features = build_pipeline().named_steps["features"].fit_transform(_parsed(texts))
    classes, y = np.unique(labels, return_inverse=True)
    stored = SoftBalancedSvm()  # as unpickled from an older artifact: its SVM, no weights_
    stored.svm_, stored.classes_ = LinearSVC(C=0.5).fit(features, y), classes
    assert (stored.predict(features) == np.asarray(labels)).mean() >= 0.95


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rows(count_per_class: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {"Short": _sentence(rng, words), "Long": _sentence(rng, words), "Group": slug}
        for slug, words in VOCABULARY.items()
        for _ in range(count_per_class)
    ]


def test_evaluate_triage_prints_the_figures_as_json(tmp_path: Path) -> None:
    train = _write_csv(tmp_path / "train.csv", _rows(30, 1))
    test_rows = [*_rows(5, 2), {"Short": "brand new thing", "Long": "", "Group": "unseen"}]
    test = _write_csv(tmp_path / "test.csv", test_rows)
    out = StringIO()
    call_command(
        "evaluate_triage",
        "--train", str(train), "--test", str(test),
        "--text", "Short", "--text", "Long", "--label", "Group", "--json",
        stdout=out,
    )  # fmt: skip
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    for key in ("accuracy", "macro_f1", "train_seconds", "predict_per_second", "p95_single_ms"):
        assert key in result
    assert set(result["coverage_at_precision"]) == {"0.90", "0.95", "0.98"}
    # The unseen label cannot be predicted, so it counts as an error: 15 of 16 at best.
    assert result["accuracy"] <= 15 / 16
    assert result["accuracy"] >= 0.8


def test_evaluate_triage_cross_validates(tmp_path: Path) -> None:
    train = _write_csv(tmp_path / "all.csv", _rows(30, 3))
    out = StringIO()
    call_command(
        "evaluate_triage", "--train", str(train), "--cv", "3",
        "--text", "Short", "--label", "Group", "--json", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    result = json.loads(out.getvalue())
    assert result["mode"] == "cv3" and len(result["folds"]) == 3
    assert result["test_rows"] == 90


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    train = _write_csv(tmp_path / "train.csv", _rows(30, 1))
    with pytest.raises(CommandError) as error:
        call_command(
            "evaluate_triage", "--train", str(train), "--cv", "3",
            "--text", "Summary", "--label", "Group",
        )  # fmt: skip
    assert "'Summary'" in str(error.value) and "'Short'" in str(error.value)


def test_evaluate_triage_reads_field_columns_beside_the_text(tmp_path: Path) -> None:
    texts, labels, contexts = _routed_by_client(12)
    rows = [
        {"Short": text, "Site": context.split()[0], "Group": label}
        for text, label, context in zip(texts, labels, contexts, strict=True)
    ]
    train = _write_csv(tmp_path / "sites.csv", rows)
    results = {}
    for fields in ([], ["--field", "Site"]):
        out = StringIO()
        call_command(
            "evaluate_triage", "--train", str(train), "--cv", "3", "--text", "Short",
            *fields, "--label", "Group", "--json", stdout=out, stderr=StringIO(),
        )  # fmt: skip
        result = json.loads(out.getvalue())
        results[tuple(result["fields"])] = result["accuracy"]
    # The words are the same for both desks: only the site says which.
    assert results[("Site",)] >= 0.95 and results[()] <= 0.75
    with pytest.raises(CommandError) as error:
        call_command(
            "evaluate_triage", "--train", str(train), "--cv", "3", "--text", "Short",
            "--field", "Region", "--label", "Group",
        )  # fmt: skip
    assert "'Region'" in str(error.value) and "'Site'" in str(error.value)


def test_too_few_rows_to_train_is_a_clear_error(tmp_path: Path) -> None:
    train = _write_csv(tmp_path / "tiny.csv", _rows(3, 1))
    test = _write_csv(tmp_path / "test.csv", _rows(1, 2))
    with pytest.raises(CommandError) as error:
        call_command(
            "evaluate_triage", "--train", str(train), "--test", str(test),
            "--text", "Short", "--label", "Group",
        )  # fmt: skip
    assert "at least" in str(error.value)


@pytest.mark.django_db
def test_the_pipeline_proposes_what_would_change_once(world: World) -> None:
    from governance.models import Action
    from governance.tests.helpers import policy_with

    types = _history(world)
    triage_model_train(target=TriageModel.Target.TYPE)
    policy_with(world, set_type="approval")
    fresh = make_ticket(
        world.client,
        summary="printer toner empty and a paper jam",
        external_id="P-1",
        type=world.ticket_type,  # filed under the wrong type
    )

    [action] = triage_run(ticket_id=fresh.id)
    assert action.kind == "set_type" and action.params == {"ticket_type": types["printing"].id}
    assert action.status == Action.Status.PROPOSED
    assert action.model_version.startswith("triage-type-") and action.confidence is not None
    assert "Classifier scores" in str(action.evidence)
    again = triage_run(ticket_id=fresh.id)
    assert [a.id for a in again] == [action.id]
    assert TriagePrediction.objects.filter(ticket=fresh).count() == 1


@pytest.mark.django_db
def test_the_pipeline_leaves_a_right_ticket_and_a_closed_one_alone(world: World) -> None:

    types = _history(world)
    triage_model_train(target=TriageModel.Target.TYPE)
    right = make_ticket(
        world.client, summary="vpn dns latency", external_id="R-1", type=types["network"]
    )
    assert triage_run(ticket_id=right.id) == []
    closed = make_ticket(
        world.client, summary="printer jam", external_id="R-2", status=Ticket.Status.CLOSED
    )
    assert triage_run(ticket_id=closed.id) == []


@pytest.mark.django_db
def test_a_batch_predicts_each_ticket_once_per_model(world: World) -> None:

    types = _history(world)
    triage_model_train(target=TriageModel.Target.TYPE)
    tickets = [
        make_ticket(world.client, summary=text, external_id=f"B-{n}", type=world.ticket_type)
        for n, text in enumerate(["printer toner jam", "vpn dns down", "password expired"])
    ]
    first = triage_run_many(ticket_ids=[t.id for t in tickets])
    proposed = {t.id: [a.params for a in first[t.id]] for t in tickets}
    assert proposed[tickets[0].id] == [{"ticket_type": types["printing"].id}]
    assert proposed[tickets[1].id] == [{"ticket_type": types["network"].id}]
    assert proposed[tickets[2].id] == []  # already the right type
    again = triage_run_many(ticket_ids=[t.id for t in tickets])
    assert {t.id: [a.id for a in again[t.id]] for t in tickets} == {
        t.id: [a.id for a in first[t.id]] for t in tickets
    }
    assert TriagePrediction.objects.count() == 3


def test_numeric_labels_such_as_priorities_train() -> None:
    rng = random.Random(9)
    vocabularies = [*VOCABULARY.values(), ["outage", "down", "everyone", "urgent", "server"]]
    texts, labels = [], []
    for priority, words in zip("1234", vocabularies, strict=True):
        for _ in range(20):
            texts.append(_sentence(rng, words))
            labels.append(priority)
    model = classifier_train(texts, labels)
    assert set(model.labels) == {"1", "2", "3", "4"}
    assert all(p.label in model.labels for p in model.predict(texts[:5]))


@pytest.mark.django_db
def test_subtypes_are_learned_and_proposed_under_the_right_type(world: World) -> None:
    from governance.gate import action_execute
    from governance.services import action_approve
    from governance.tests.helpers import policy_with
    from tickets.models import TicketEvent, TicketSubtype

    rng = random.Random(5)
    words = {
        "Expired": ["expired", "password expired", "expiry notice", "change password"],
        "Locked": ["locked out", "too many attempts", "account locked", "lockout"],
    }
    subtypes = {
        name: TicketSubtype.objects.create(type=world.ticket_type, name=name) for name in words
    }
    for name, vocabulary in words.items():
        for number in range(30):
            make_ticket(
                world.client,
                summary=_sentence(rng, vocabulary),
                external_id=f"{name}-{number}",
                type=world.ticket_type,
                subtype=subtypes[name],
                status=Ticket.Status.RESOLVED,
            )
    model = triage_model_train(target=TriageModel.Target.SUBTYPE)
    assert set(model.labels) == {"password-reset/Expired", "password-reset/Locked"}
    policy_with(world, set_subtype="approval")

    fresh = make_ticket(
        world.client,
        summary="my account locked after too many attempts, lockout",
        external_id="S-1",
        type=world.ticket_type,
    )
    [action] = triage_run(ticket_id=fresh.id)
    assert action.kind == "set_subtype" and action.params == {"subtype": subtypes["Locked"].id}
    assert "set the subtype of ticket" in action.plan() and "Locked" in action.plan()
    action_approve(action=action, staff=world.tech_in)
    action_execute(action_id=action.id)
    fresh.refresh_from_db()
    assert fresh.subtype_id == subtypes["Locked"].id
    event = TicketEvent.objects.get(ticket=fresh, kind=TicketEvent.Kind.SUBTYPE_CHANGED)
    assert event.data["new_label"] == "Password reset › Locked"

    # Under another type the password-reset subtypes are never proposed.
    printing = TicketType.objects.create(name="Printing", slug="printing")
    other = make_ticket(
        world.client, summary="account locked lockout", external_id="S-2", type=printing
    )
    assert [a.kind for a in triage_run(ticket_id=other.id)] == []
