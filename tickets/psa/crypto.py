"""Secrets at rest: PSA credentials and webhook secrets are stored Fernet-encrypted (AES-128
in CBC with an HMAC-SHA256 tag), under `FIELD_ENCRYPTION_KEY`, or — when that is unset — a
key derived from `SECRET_KEY`. Pages show only a masked hint, never the value."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(RuntimeError):
    """Stored secrets that the configured keys cannot decrypt (the key changed)."""


def _derived(secret: str) -> bytes:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"servicedesk-fields", info=b"fernet"
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(key)


def _fernet() -> MultiFernet:
    keys = [key.encode() for key in settings.FIELD_ENCRYPTION_KEYS]
    return MultiFernet([Fernet(key) for key in keys] or [Fernet(_derived(settings.SECRET_KEY))])


def seal(value: Any) -> str:
    """Encrypt a JSON-serialisable value."""
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def unseal(token: str, default: Any = None) -> Any:
    if not token:
        return default
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretUnreadable(
            "Stored credentials cannot be decrypted with the configured key; enter them again."
        ) from None


def mask(value: str) -> str:
    """“••••3f9a” — enough to recognise a secret, never enough to use it."""
    if not value:
        return ""
    tail = value[-4:] if len(value) >= 12 else ""
    return f"••••{tail}"
