#!/usr/bin/env bash
# Runs a step of uploaded code (locking or building a resource's environment, its test) as
# an unprivileged user of its own, in /tmp/sandbox (or $SANDBOX_DIR), and kills every process of that user when
# the command returns. Used by the test matrix on the (ephemeral) runner. The stage jobs only
# `setup` their user: the backoffice runs its image decoder as BACKOFFICE_SANDBOX_USER itself
# (backoffice/util/sandbox_user.py) and ends that user's processes the same way.
#
# Why: later steps of the same job (actions/cache, actions/upload-artifact) hold the job's
# runtime token in their process environment. A process of another user can read neither
# their /proc/<pid>/environ nor the runner's files, and none of its processes outlives its
# step, so uploaded code never sees that token (which could save cache entries or replace
# artifacts).
#
#   sandbox.sh setup USER...   create the users and the folder (owned by the first)
#   sandbox.sh run USER CMD... run CMD as USER in the folder, then kill all of USER's processes
set -euo pipefail

# SANDBOX_DIR: a folder of the caller's job or matrix leg (legs sharing a host never meet)
sandbox_dir=${SANDBOX_DIR:-/tmp/sandbox}

setup() {
  local first=1 user
  for user in "$@"; do
    id "$user" >/dev/null 2>&1 || sudo useradd --create-home --shell /bin/bash "$user"
    if [ "$first" = 1 ]; then
      sudo install -d -o "$user" -m 0755 "$sandbox_dir" "$sandbox_dir/envs" "$sandbox_dir/handover"
      first=0
    fi
  done
}

end_user() {
  # every process of the user, however it detached itself: the user's own `kill -1` reaches
  # all of them in one pass no fork escapes (pkill reads the process list first); then
  # check that none is left
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    sudo -n -u "$1" -- kill -KILL -1 2>/dev/null || true
    pgrep -u "$1" >/dev/null || return 0
    sleep 0.5
  done
  echo "::error title=Sandbox::processes of $1 survived the end of their step" >&2
  exit 1
}

run() {
  local user=$1 home rc=0
  shift
  home=$(getent passwd "$user" | cut -d: -f6)
  # an explicit, secret-free environment: nothing else of the runner's is inherited
  local vars=("PATH=/tmp/micromamba-bin:$PATH" "HOME=$home" "MAMBA_ROOT_PREFIX=$home/micromamba" "LANG=C.UTF-8")
  local name
  for name in GITHUB_ACTIONS PIP_ONLY_BINARY BACKOFFICE_STORAGE BACKOFFICE_PUBLIC_BASE_URL \
    BACKOFFICE_S3_ENDPOINT_URL BACKOFFICE_S3_BUCKET BACKOFFICE_S3_PREFIX BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS \
    BACKOFFICE_CONFIG_PATH BACKOFFICE_ENV_TEMPLATES_DIR BACKOFFICE_COLLECTION_DIR; do
    [ -z "${!name:-}" ] || vars+=("$name=${!name}")
  done
  (cd "$sandbox_dir" && sudo -u "$user" -- env -i "${vars[@]}" "$@") || rc=$?
  end_user "$user"
  return "$rc"
}

cmd=${1:?usage: sandbox.sh setup USER... | run USER CMD...}
shift
case "$cmd" in
  setup) setup "$@" ;;
  run) run "$@" ;;
  *) echo "sandbox.sh: unknown command $cmd" >&2; exit 2 ;;
esac
