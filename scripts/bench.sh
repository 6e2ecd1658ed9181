#!/usr/bin/env bash
# Run every bench/<name>.py in turn; each prints one JSON object as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export DEBUG=true
for module in bench/[a-z]*.py; do
  name=$(basename "$module" .py)
  echo "== bench.$name" >&2
  python -m "bench.$name"
done
