#!/usr/bin/env bash
# Debian packages the test suite uses: a real browser for the dashboard tests, a
# real IMAP server for the e-mail reply tests, sudo and jq for the workflows the suite
# runs under act (scripts/sandbox.sh, the store jobs). Installs only what is missing.
set -euo pipefail
packages=(chromium dovecot-imapd sudo jq git)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
