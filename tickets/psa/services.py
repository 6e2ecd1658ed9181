"""Writes a manager makes to PSA connections: saving one (secrets sealed, blank secret
fields keep the stored value), mapping a PSA value, loading the PSA's values into the
mapping, and starting a sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from tickets.psa.adapters import client_for
from tickets.psa.base import PsaError
from tickets.psa.models import PsaConnection, PsaMapping


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool
    help: str = ""


CREDENTIALS: dict[str, tuple[CredentialField, ...]] = {
    PsaConnection.Kind.CONNECTWISE: (
        CredentialField("company_id", "Company id", False, "The company you sign in with."),
        CredentialField("public_key", "Public key", False, "Of an API member."),
        CredentialField("private_key", "Private key", True),
        CredentialField("client_id", "Client id", True, "From developer.connectwise.com."),
    ),
    PsaConnection.Kind.AUTOTASK: (
        CredentialField("username", "API user name", False, "An API-only user."),
        CredentialField("secret", "Secret", True),
        CredentialField("integration_code", "Tracking identifier", True),
    ),
    PsaConnection.Kind.HALOPSA: (
        CredentialField("tenant", "Tenant", False, "Hosted Halo: your tenant name."),
        CredentialField("client_id", "Client id", False, "Of a client-credentials application."),
        CredentialField("client_secret", "Client secret", True),
    ),
}


def connection_save(
    *,
    connection: PsaConnection,
    credentials: dict[str, str],
    webhook_secret: str = "",
    keep_previous_secret: bool = False,
) -> PsaConnection:
    """Save a connection. A blank credential keeps the stored one; a new webhook secret
    replaces the current one, keeping it valid beside the new one when asked (rotation)."""
    stored = connection.credentials if connection.pk else {}
    merged = {
        field.name: (credentials.get(field.name) or "").strip() or stored.get(field.name, "")
        for field in CREDENTIALS[connection.kind]
    }
    connection.credentials = merged
    if webhook_secret:
        previous = connection.webhook_secrets[:1] if keep_previous_secret else []
        connection.webhook_secrets = [webhook_secret, *previous]
    connection.save()
    return connection


def connection_check(connection: PsaConnection) -> tuple[bool, str]:
    """Try the credentials with a cheap call; (worked, what to tell the manager)."""
    client = client_for(connection)
    try:
        return True, client.check()
    except PsaError as error:
        return False, str(error)
    finally:
        client.close()


def mapping_set(
    *, row: PsaMapping, value: str, choices: dict[str, list[tuple[str, str]]]
) -> PsaMapping:
    """Map a PSA value to one of ours ("" unmaps it); ValueError for a value we don't have.
    `choices` is `selectors.value_choices()`, read once by the caller."""
    if value and value not in {ours for ours, _ in choices[row.field]}:
        raise ValueError("That value is not one of ours.")
    row.value, row.suggested = value, False
    row.save(update_fields=["value", "suggested", "updated_at"])
    return row


def mapping_confirm_suggestions(connection: PsaConnection) -> int:
    """A manager accepts every suggested value at once; returns how many."""
    return PsaMapping.objects.filter(connection=connection, suggested=True).update(
        suggested=False, updated_at=timezone.now()
    )


def mapping_load(connection: PsaConnection) -> int:
    """Add every value the PSA lists (statuses per board, priorities, types, boards,
    companies, members) to the mapping, with suggestions, before tickets bring them.
    Returns how many rows are new."""
    from tickets.psa.records import Suggester

    client = client_for(connection)
    try:
        catalogue = client.catalogue()
    finally:
        client.close()
    held = set(PsaMapping.objects.filter(connection=connection).values_list("field", "external_id"))
    suggest = Suggester()
    rows = []
    for field, refs in catalogue.items():
        if field not in PsaMapping.Field.values:
            continue
        for ref in refs:
            if (field, ref.id) in held:
                continue
            value = suggest.value(field, ref)
            rows.append(
                PsaMapping(
                    connection=connection,
                    field=field,
                    external_id=ref.id[:120],
                    label=ref.label[:200],
                    value=value,
                    suggested=bool(value),
                    first_seen_at=timezone.now(),
                )
            )
            held.add((field, ref.id))
    PsaMapping.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def sync_start(connection: PsaConnection, *, full: bool = False) -> None:
    """Queue a sync now (the page follows its progress)."""
    from django_q.tasks import async_task

    def queue() -> Any:
        return async_task("tickets.tasks.psa_sync_now", connection.id, full, group="psa-sync")

    transaction.on_commit(queue)
