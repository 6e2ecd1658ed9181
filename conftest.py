"""Test-wide set-up. The test command points DATABASE_URL at a throwaway PostgreSQL cluster;
without it, tests run on SQLite (the embedded default)."""

from __future__ import annotations

import os

# Development defaults for settings parsing; pytest-django still runs tests with DEBUG off.
os.environ.setdefault("DEBUG", "true")

pytest_plugins = [
    "tests.fixtures",
    "tests.browser",
    "tests.llm_server",
    "tests.dovecot",
    "tests.slapd",
    "tests.smtp",
]


def pytest_configure() -> None:
    from django.conf import settings

    # Hashing test passwords with PBKDF2 costs seconds per test; nothing here tests hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
