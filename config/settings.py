"""Settings, all read from the environment (see docs/configuration.md).

A malformed value raises ImproperlyConfigured naming the variable, at start-up.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_database,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
)
from tickets.intake.imap import imap_mailboxes_from_urls  # a parser; loads no models

# Lets generic admin and queryset classes be subscripted at run time, as the stubs type them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-true"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is false (a random string of 50+ characters; "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` makes one)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "config.apps.DeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "django_q",
    "auditlog",
    "template_partials",
    "tickets",
    "governance",
    "automation",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

if not DEBUG:
    # In production the app serves its own compressed, cache-busted static files.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tickets.context_processors.staff",
                "tickets.context_processors.inbox",
                "governance.context_processors.approvals",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'servicedesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs the web server and the django-q2 worker side by side:
    # WAL and a busy timeout keep them from tripping over each other's locks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Security: safe by default when DEBUG is off; each can be overridden for unusual deployments.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# LLM (optional): any OpenAI-compatible endpoint. Without it the local model is used.
LLM_BASE_URL = env_url("LLM_BASE_URL", "")
LLM_API_KEY = env_str("LLM_API_KEY", "")
LLM_MODEL = env_str("LLM_MODEL", "")
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 20.0, minimum=0.1)
# Prices per million tokens, to record what each LLM call cost (0: cost not tracked).
LLM_PRICE_INPUT_PER_MTOK = env_float("LLM_PRICE_INPUT_PER_MTOK", 0.0, minimum=0.0)
LLM_PRICE_OUTPUT_PER_MTOK = env_float("LLM_PRICE_OUTPUT_PER_MTOK", 0.0, minimum=0.0)
if LLM_BASE_URL and not LLM_MODEL:
    raise ImproperlyConfigured("LLM_MODEL must be set when LLM_BASE_URL is set.")

# Intake API (`POST /api/intake/tickets/`): keys callers send as `Authorization: Bearer …`.
# None configured: the endpoint refuses every call.
INTAKE_API_KEYS = env_list("INTAKE_API_KEYS", [])
if any(len(key) < 24 for key in INTAKE_API_KEYS):
    raise ImproperlyConfigured(
        "INTAKE_API_KEYS entries must be at least 24 characters "
        "(`python -c 'import secrets; print(secrets.token_urlsafe(32))'` makes one)."
    )

# An arrival claimed this long ago and not finished (its worker died) is processed again by
# the sweep; one waiting this long without a drain gets one.
INTAKE_STALE_CLAIM_SECONDS = env_int("INTAKE_STALE_CLAIM_SECONDS", 300, minimum=5)

# E-mail intake by IMAP: comma-separated
# imap[s]://user:password@host[:port]/FOLDER?processed=Processed[&name=…] (percent-encode
# @ : / ? # % and commas in user names and passwords; processed= empty marks mail seen
# instead of moving it). Parsed by our own function: its errors never repeat the password.
_imap_urls = env_str("INTAKE_IMAP_URLS", "")
INTAKE_IMAP_MAILBOXES = imap_mailboxes_from_urls(_imap_urls.split(",") if _imap_urls else [])

# The LLM agent takes tickets no playbook covers (needs LLM_BASE_URL); off by default, since
# every run costs model calls. What it may propose is still each ticket type's policy.
AGENT_ENABLED = env_bool("AGENT_ENABLED", False)

# Outgoing mail: replies to tickets that came by e-mail or the portal go to the requester.
# With EMAIL_HOST unset (the embedded default) they are written to files under var/mail.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 15, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "servicedesk@localhost")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")

# Where requesters reach this desk: the one-time password links in replies start with it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# The queue SLA-based auto-escalation moves tickets to (by slug).
ESCALATION_QUEUE_SLUG = env_str("ESCALATION_QUEUE_SLUG", "escalations-l2")

# PSA connections. Credentials are encrypted at rest with the first of these Fernet keys
# (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`);
# older keys after it still decrypt, for rotation. Unset: a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
# Share of Autotask's hourly request threshold this product allows itself (the API is shared
# by every integration of the tenant; Autotask slows all of them past 50%).
PSA_AUTOTASK_BUDGET_SHARE = env_float("PSA_AUTOTASK_BUDGET_SHARE", 0.5, minimum=0.05)
# Seconds each PSA request may take before it counts as failed (and is retried).
PSA_TIMEOUT_SECONDS = env_float("PSA_TIMEOUT_SECONDS", 15.0, minimum=0.5)

# Background work: django-q2 with the ORM broker by default; Redis optional.
Q_BROKER = env_choice("Q_BROKER", "orm", ("orm", "redis"))
Q_CLUSTER: dict[str, object] = {
    "name": "servicedesk",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": env_int("Q_TIMEOUT_SECONDS", 300, minimum=1),
    "retry": env_int("Q_RETRY_SECONDS", 360, minimum=2),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 5, minimum=1),
    "catch_up": False,
    "label": "Background tasks",
    # Run tasks inline in the calling process (for debugging; never in production).
    "sync": env_bool("Q_SYNC", False),
}
if Q_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
else:
    if importlib.util.find_spec("redis") is None:
        raise ImproperlyConfigured("Q_BROKER=redis needs the 'redis' package: pip install redis.")
    Q_CLUSTER["redis"] = env_url(
        "REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix")
    )
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:  # type: ignore[operator]
    raise ImproperlyConfigured("Q_RETRY_SECONDS must be greater than Q_TIMEOUT_SECONDS.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Service desk automation API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Approve, reject and inspect the actions the automation proposes, and edit the agent "
        "policies that decide what it may do on its own. Sign in with a session; every list "
        "and detail is limited to the clients you serve."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Choice sets shared by several fields get one name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ActionKindEnum": "governance.kinds.KIND_CHOICES",
        "ProposerKindEnum": "governance.models.Action.Proposer",
    },
}

# An agent proposal nobody decides expires after this long; an approval that has not run
# within this many minutes (kill switch, outage) expires instead of running late.
GOVERNANCE_PROPOSAL_TTL_HOURS = env_int("GOVERNANCE_PROPOSAL_TTL_HOURS", 72, minimum=1)
GOVERNANCE_APPROVAL_TTL_MINUTES = env_int("GOVERNANCE_APPROVAL_TTL_MINUTES", 60, minimum=1)

TICKETS_PAGE_SIZE = env_int("TICKETS_PAGE_SIZE", 50, minimum=1)
# Lists count matching rows exactly up to this many, then say "more than".
TICKETS_COUNT_CAP = env_int("TICKETS_COUNT_CAP", 2_000, minimum=100)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice(
            "LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")
        ).upper(),
    },
}
