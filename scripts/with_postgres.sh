#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster, then stop and remove the cluster.
#   scripts/with_postgres.sh pytest -n auto
# Installs the PostgreSQL server with apt if it is missing. DATABASE_URL is exported to the
# command. The cluster trades durability for speed (fsync off): for tests and benchmarks only.
set -euo pipefail

find_pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

PGBIN=$(find_pgbin || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "with_postgres: PostgreSQL server not found; installing it with apt-get…" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  # Keep the package from creating and starting a system cluster of its own (only when
  # nobody has configured this yet).
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    postgresql >&2
  PGBIN=$(find_pgbin)
fi

BASE=$(mktemp -d /tmp/servicedesk-pg.XXXXXX)
chmod 755 "$BASE"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$BASE"; fi

cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$BASE/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$BASE"
}
trap cleanup EXIT INT TERM

as_pg "$PGBIN/initdb" -D "$BASE/data" -U postgres -E UTF8 --locale=C.UTF-8 \
  --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$BASE/initdb.log" 2>&1 \
  || { cat "$BASE/initdb.log" >&2; exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$BASE/data" -l "$BASE/data/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $PORT -k $BASE -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$BASE/data/server.log" >&2; exit 1; }
as_pg "$PGBIN/psql" -h "$BASE" -p "$PORT" -U postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE servicedesk LOGIN CREATEDB PASSWORD '$PASSWORD'" \
  -c "CREATE DATABASE servicedesk OWNER servicedesk" >/dev/null

export DATABASE_URL="postgres://servicedesk:$PASSWORD@127.0.0.1:$PORT/servicedesk"
echo "with_postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
status=$?
set -e
exit $status
