"""Strict parsing of settings from the environment.

Every reader names the variable in its error, so a bad value stops start-up with a message an
operator can act on instead of surfacing later as a confusing failure.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    source = os.environ if environ is None else environ
    value = source.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of: true, false, 1, 0, yes, no, on, off."
    )


def env_int(
    name: str, default: int, *, minimum: int = 0, environ: Mapping[str, str] | None = None
) -> int:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}.")
    return number


def env_float(
    name: str, default: float, *, minimum: float = 0.0, environ: Mapping[str, str] | None = None
) -> float:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name}={value!r} must be a finite number.")
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}.")
    return number


def env_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ImproperlyConfigured(
            f"{name}={value!r} has an empty entry; give a comma-separated list such as "
            "'desk.example.com,localhost'."
        )
    return items


def env_choice(
    name: str, default: str, choices: tuple[str, ...], *, environ: Mapping[str, str] | None = None
) -> str:
    value = env_str(name, default, environ=environ).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}.")
    return value


def env_url(
    name: str,
    default: str,
    *,
    schemes: tuple[str, ...] = ("http", "https"),
    environ: Mapping[str, str] | None = None,
) -> str:
    """A URL with one of `schemes`, or the default (empty means "not configured")."""
    value = env_str(name, default, environ=environ)
    if value == "":
        return value
    parsed = urlparse(value)
    located = parsed.path if parsed.scheme == "unix" else parsed.netloc
    if parsed.scheme not in schemes or not located:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a URL starting with {' or '.join(s + '://' for s in schemes)}"
        )
    return value


_DB_ENGINES = {"sqlite", "postgres", "postgresql", "pgsql"}


def env_database(
    name: str, default: str, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    value = env_str(name, default, environ=environ)
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in _DB_ENGINES:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a supported database URL; use "
            "'sqlite:////absolute/path.sqlite3' or 'postgres://user:password@host:5432/name'."
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(value, conn_max_age=60))
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} could not be parsed: {error}") from None
    if scheme != "sqlite" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={value!r} names no database after the host.")
    return config
