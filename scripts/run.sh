#!/usr/bin/env bash
# `make run`: migrate, seed the demo MSP if it is not there, start the background worker and the
# web server on the embedded default (SQLite under var/, local model, no API key).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEBUG="${DEBUG:-true}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var

echo "== Applying database migrations"
python manage.py migrate --noinput
# Seed only with DEBUG on, and only an empty or demo database: never add demo logins
# (password "demo") beside real data.
if [ "$DEBUG" = "true" ]; then
  echo "== Seeding the demo MSP (each step is skipped when its data is already there)"
  python manage.py seed_demo --unless-real-data
  python manage.py seed_governance_demo --unless-real-data
  python manage.py seed_automation_demo --unless-real-data
  python manage.py seed_metrics_demo --unless-real-data
else
  echo "== DEBUG is not true: not seeding the demo MSP"
fi

echo "== Starting the background worker (django-q2)"
# Background processes get their own session: Ctrl-C reaches them only through cleanup below.
setsid python manage.py qcluster >var/qcluster.log 2>&1 &
WORKER=$!
PSA_DEMO=""
if [ "$DEBUG" = "true" ]; then
  echo "== Starting a simulated ConnectWise PSA on port ${PSA_DEMO_PORT:-8101} (a new ticket every ${PSA_DEMO_EVERY:-20} s)"
  setsid python manage.py psa_demo --port "${PSA_DEMO_PORT:-8101}" --every "${PSA_DEMO_EVERY:-20}" \
    --desk-url "http://$HOST:$PORT" >var/psa-demo.log 2>&1 &
  PSA_DEMO=$!
fi
# Stop the background processes once: a second SIGTERM while django-q2 is shutting down
# can deadlock it, so the handler removes itself before signalling.
cleanup() {
  trap - EXIT INT TERM
  kill $WORKER $PSA_DEMO 2>/dev/null || true
  wait $WORKER $PSA_DEMO 2>/dev/null || true
}
trap cleanup EXIT INT TERM

python - <<PY
from tickets.demo import DEMO_LOGINS
print()
print("Service desk is starting at  http://$HOST:$PORT/")
print("Sign in with any of these demo logins:")
for username, password, role in DEMO_LOGINS:
    print(f"  {role:<11} {username:<10} password: {password}")
print("Worker log: var/qcluster.log   Simulated PSA log: var/psa-demo.log   Stop with Ctrl-C.")
print()
PY
python manage.py runserver "$HOST:$PORT"
