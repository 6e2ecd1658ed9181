#!/usr/bin/env bash
# The whole test command (what `make test` and .ci/run execute), from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEBUG=true

step() { printf '\n== %s\n' "$*"; }

step "ruff check"
ruff check .
step "ruff format --check"
ruff format --check .
step "mypy"
mypy .
step "browser for the end-to-end tests"
scripts/ensure_chromium.sh
step "mail server for the IMAP tests"
scripts/ensure_dovecot.sh
step "directory server for the LDAP tests"
scripts/ensure_slapd.sh
step "pytest on PostgreSQL"
scripts/with_postgres.sh pytest -n "${PYTEST_WORKERS:-auto}" -p no:cacheprovider "$@"
step "smoke tests on SQLite (the embedded default)"
SMOKE_DB=$(mktemp -d /tmp/servicedesk-smoke.XXXXXX)
trap 'rm -rf "$SMOKE_DB"' EXIT
DATABASE_URL="sqlite:///$SMOKE_DB/smoke.sqlite3" pytest -m smoke -p no:cacheprovider -q
