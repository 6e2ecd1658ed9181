#!/usr/bin/env bash
# Create .venv and install the pinned requirements. On a bare Debian, python3 lacks venv and
# ensurepip until python3-venv is installed; install it with apt when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "bootstrap: $PYTHON cannot create virtual environments; installing python3-venv…" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    python3-venv >&2
fi
# A venv left half-made by an earlier failure has a python but no pip: start it again.
if [ -d .venv ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo "bootstrap: .venv is incomplete; recreating it" >&2
  rm -rf .venv
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
