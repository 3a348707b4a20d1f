#!/usr/bin/env bash
# Debian packages the test suite uses: a real browser for the dashboard tests, a
# real IMAP server for the e-mail reply tests, and what the workflows the suite runs
# under act call (sudo and pgrep in scripts/sandbox.sh, jq in the store jobs, git for
# act's copy of the project). Installs only what is missing.
set -euo pipefail
packages=(chromium dovecot-imapd sudo jq git procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
