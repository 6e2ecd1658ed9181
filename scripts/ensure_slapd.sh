#!/usr/bin/env bash
# The directory tool tests start a private OpenLDAP slapd (tests/slapd.py); install it with apt
# if missing. Only the binaries are used: the packaged system service is never started.
set -euo pipefail
if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then exit 0; fi
echo "ensure_slapd: slapd not found; installing slapd and ldap-utils with apt-get…" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    slapd ldap-utils >&2
