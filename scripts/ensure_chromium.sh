#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright; install it with apt if missing.
# (Playwright's own browser download does not work here and is never used.)
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "ensure_chromium: /usr/bin/chromium not found; installing it with apt-get…" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >&2
