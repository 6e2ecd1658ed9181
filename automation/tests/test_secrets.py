"""One-time secrets: a new password reaches its owner through a link that works once,
expires, and leaves nothing readable behind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from automation.models import OneTimeSecret
from automation.secrets import password_generate, secret_issue, secret_open, secrets_purge
from tests.fixtures import World

pytestmark = pytest.mark.django_db


def test_a_link_shows_the_password_once(world: World) -> None:
    path = secret_issue(
        ticket=world.ticket, contact=world.contact, value="Tr0ub4dor&3xyz", purpose="reset"
    )
    stored = OneTimeSecret.objects.get()
    assert "Tr0ub4dor" not in stored.value_sealed and path.split("/")[-2] not in stored.token_hash
    http = HttpClient()

    landing = http.get(path)  # what a mail scanner does: it must not use the link up
    shown = http.post(path)
    again = http.post(path)

    assert landing.status_code == 200 and "Show my password" in landing.content.decode()
    assert shown.status_code == 200 and "Tr0ub4dor&amp;3xyz" in shown.content.decode()
    assert shown["Cache-Control"] == "no-store" and shown["Referrer-Policy"] == "no-referrer"
    assert again.status_code == 410 and "already been used" in again.content.decode()
    stored.refresh_from_db()
    assert stored.value_sealed == "" and stored.opened_at is not None


def test_an_expired_link_shows_nothing_and_is_purged(world: World) -> None:
    long_ago = timezone.now() - dt.timedelta(days=3)
    path = secret_issue(
        ticket=world.ticket, contact=world.contact, value="secret", purpose="reset", now=long_ago
    )
    token = path.split("/")[-2]
    assert secret_open(token) is None
    assert HttpClient().get(path).status_code == 410
    assert secrets_purge() == 1
    assert OneTimeSecret.objects.get().value_sealed == ""


def test_generated_passwords_are_strong_and_different() -> None:
    made = {password_generate() for _ in range(50)}
    assert len(made) == 50
    for value in made:
        assert len(value) == 16
        assert any(c.isupper() for c in value) and any(c.islower() for c in value)
        assert any(c.isdigit() for c in value) and any(not c.isalnum() for c in value)
