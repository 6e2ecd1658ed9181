"""Settings come from the environment; a bad value stops start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_database, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k7Qp2-vZ9xLr8Tn4Wd6Hy1Bc3Fj5Mg0Ks7Pq2Vx9Zl8Rt4Nw6Dy1Hb3Cf5Jm0Gk",
    "ALLOWED_HOSTS": "desk.example-msp.com",
    "DATABASE_URL": "postgres://desk:secret@db.internal:5432/desk",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.smoke
def test_check_deploy_is_clean_with_the_documented_production_variables() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_debug_is_on() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "true"})
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/desk"),
        ("Q_WORKERS", "two"),
        ("LLM_BASE_URL", "ftp://models.internal"),
        ("ALLOWED_HOSTS", "desk.example.com,,"),
        ("LOG_LEVEL", "verbose"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(variable: str, value: str) -> None:
    env = {"DEBUG": "true", variable: value}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_env_bool_accepts_common_spellings() -> None:
    assert env_bool("X", False, environ={"X": "Yes"}) is True
    assert env_bool("X", True, environ={"X": "0"}) is False
    assert env_bool("X", True, environ={}) is True
    with pytest.raises(ImproperlyConfigured, match="X="):
        env_bool("X", False, environ={"X": "enabled"})


def test_env_int_enforces_its_minimum() -> None:
    assert env_int("N", 3, environ={"N": " 8 "}) == 8
    with pytest.raises(ImproperlyConfigured, match="N='0' must be at least 1"):
        env_int("N", 3, minimum=1, environ={"N": "0"})


def test_env_list_splits_and_rejects_empty_entries() -> None:
    assert env_list("H", [], environ={"H": "a.com, b.com"}) == ["a.com", "b.com"]
    with pytest.raises(ImproperlyConfigured, match="H="):
        env_list("H", [], environ={"H": "a.com,"})


def test_env_url_requires_http() -> None:
    assert env_url("U", "", environ={}) == ""
    assert env_url("U", "", environ={"U": "http://127.0.0.1:8080/v1"}).endswith("/v1")
    with pytest.raises(ImproperlyConfigured, match="U="):
        env_url("U", "", environ={"U": "127.0.0.1:8080"})


def test_env_database_parses_postgres_and_sqlite() -> None:
    pg = env_database("DB", "", environ={"DB": "postgres://u:p@h:5433/desk"})
    assert (pg["ENGINE"], pg["NAME"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "desk",
        5433,
    )
    lite = env_database("DB", "sqlite:////tmp/x.sqlite3", environ={})
    assert lite["ENGINE"] == "django.db.backends.sqlite3"
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        env_database("DB", "", environ={"DB": "postgres://u:p@h:5432"})


def test_redis_urls_must_be_redis() -> None:
    schemes = ("redis", "rediss", "unix")
    assert env_url("R", "", schemes=schemes, environ={"R": "redis://cache:6379/1"})
    with pytest.raises(ImproperlyConfigured, match="R="):
        env_url("R", "", schemes=schemes, environ={"R": "http://cache:6379"})
