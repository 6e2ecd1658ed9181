"""One-time secrets: how a new password reaches its owner without being written anywhere a
person or a log could read it later. The value is sealed at rest; the link carries a random
token of which only a hash is stored; opening it (a POST — link scanners only GET) shows the
value once and erases it; unopened values are erased when they expire."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from automation.models import OneTimeSecret
from tickets.models import Contact, Ticket
from tickets.psa import crypto

LINK_HOURS = 24
_ALPHABET = string.ascii_letters + string.digits
_SYMBOLS = "!#%+-=?@"


def password_generate(length: int = 16) -> str:
    """A random password with upper and lower case, digits and a symbol (most directory
    complexity policies accept it)."""
    while True:
        chars = [secrets.choice(_ALPHABET) for _ in range(length - 1)]
        chars.insert(secrets.randbelow(length), secrets.choice(_SYMBOLS))
        value = "".join(chars)
        if (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
        ):
            return value


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secret_issue(
    *, ticket: Ticket, contact: Contact, value: str, purpose: str, now: dt.datetime | None = None
) -> str:
    """Keep `value` for its owner; returns the link's path (the only place the token is)."""
    token = secrets.token_urlsafe(32)
    OneTimeSecret.objects.create(
        token_hash=_hash(token),
        value_sealed=crypto.seal(value),
        ticket=ticket,
        contact=contact,
        purpose=purpose[:120],
        expires_at=(now or timezone.now()) + dt.timedelta(hours=LINK_HOURS),
    )
    return reverse("one_time_secret", args=[token])


def secret_peek(token: str, *, now: dt.datetime | None = None) -> OneTimeSecret | None:
    """The waiting secret behind a link (not opened, not expired), without opening it."""
    moment = now or timezone.now()
    return OneTimeSecret.objects.filter(
        token_hash=_hash(token), opened_at__isnull=True, expires_at__gt=moment
    ).first()


def secret_open(token: str, *, now: dt.datetime | None = None) -> str | None:
    """The value, once: the first caller gets it and it is erased; later callers (and
    expired links) get None."""
    moment = now or timezone.now()
    with transaction.atomic():
        held = (
            OneTimeSecret.objects.select_for_update()
            .filter(token_hash=_hash(token), opened_at__isnull=True, expires_at__gt=moment)
            .first()
        )
        if held is None or not held.value_sealed:
            return None
        value = str(crypto.unseal(held.value_sealed, ""))
        held.value_sealed, held.opened_at = "", moment
        held.save(update_fields=["value_sealed", "opened_at"])
    return value


def secrets_purge(*, now: dt.datetime | None = None) -> int:
    """Erase the values of links that expired unopened; returns how many."""
    moment = now or timezone.now()
    return (
        OneTimeSecret.objects.filter(expires_at__lte=moment)
        .exclude(value_sealed="")
        .update(value_sealed="")
    )
