"""Test-wide set-up. The test command points DATABASE_URL at a throwaway PostgreSQL cluster;
without it, tests run on SQLite (the embedded default)."""

from __future__ import annotations

import os

# Development defaults for settings parsing; pytest-django still runs tests with DEBUG off.
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("VAR_DIR", "/tmp/servicedesk-test-var")

pytest_plugins = ["tests.fixtures"]
