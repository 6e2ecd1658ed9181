#!/usr/bin/env bash
# The IMAP intake tests start a private Dovecot (tests/dovecot.py); install it with apt if
# missing. Only the binaries are used: the packaged system service is never started.
set -euo pipefail
if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then exit 0; fi
echo "ensure_dovecot: dovecot not found; installing dovecot-imapd with apt-get…" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    dovecot-imapd >&2
