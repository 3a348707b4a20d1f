#!/usr/bin/env bash
# Runs a step of uploaded code (locking or building a resource's environment, its test, a
# script partner's check of one resource) as an unprivileged user of its own, in a fresh
# folder of its own, and kills every process of that user when the command returns. Used by
# the test matrix and the partner checks on the (ephemeral) runner. The stage jobs only
# `setup` their user: the backoffice runs its image decoder as BACKOFFICE_SANDBOX_USER itself
# (backoffice/util/sandbox_user.py) and ends that user's processes and folder the same way.
#
# Why: later steps of the same job (actions/cache, actions/upload-artifact) hold the job's
# runtime token in their process environment. A process of another user can read neither
# their /proc/<pid>/environ nor the runner's files, and none of its processes outlives its
# step, so uploaded code never sees that token (which could save cache entries or replace
# artifacts). And nothing one run writes reaches another (issue 26): each run gets an empty
# HOME, working folder, temporary folder and cache (its bioimageio cache, XDG caches), in a
# folder with an unpredictable name that only the user may enter, removed with everything
# the user left in it after its processes are killed. A `.env` or a planted cache entry of
# one resource is never seen by the next, nor by two runs in parallel on one host.
#
#   sandbox.sh setup USER...
#       create the users (sudo useradd)
#   sandbox.sh run [--in PATH]... [--in-var NAME=PATH]... [--out PATH]... [--base DIR] [--sweep] USER [options] [--] CMD...
#       run CMD as USER in <run>/work of a fresh <run> = DIR/sandbox.XXXXXXXXXX (mode 0700, the
#       user's), with HOME=<run>/home, TMPDIR=<run>/tmp, XDG_CACHE_HOME=<run>/cache and
#       BIOIMAGEIO_CACHE_PATH=<run>/cache/bioimageio; then kill all of USER's processes.
#       SANDBOX_RUN=<run> is set in CMD's environment (CMD runs in $SANDBOX_RUN/work).
#       --in PATH   copy our PATH (relative; a file or folder) to <run>/work/PATH first
#       --in-var NAME=PATH
#                   as --in PATH, and set NAME=<run>/work/PATH (absolute) in CMD's environment:
#                   how a setting (e.g. BACKOFFICE_CONFIG_PATH) reaches CMD as a file of its run
#       --out PATH  after the kill, take <run>/work/PATH (a file or folder) over into ./PATH:
#                   regular files and folders only, read as USER; a symbolic link, a device,
#                   a name outside the folder or too many bytes is refused (`backoffice take-over`)
#       --base DIR  where the run folders are made (default $SANDBOX_BASE, else /tmp); USER
#                   must be able to create folders there
#       --sweep     afterwards also remove what USER left in /tmp, /var/tmp and /dev/shm (for a
#                   user that runs one resource after another: the partner checks; not for a
#                   step whose output outside the run folder a later step needs, e.g. an env prefix)
#   The take-over runs `python3 -m backoffice` of this checkout ($SANDBOX_PYTHON instead of python3).
#   Parallel runs (e.g. matrix legs under act on one host) each get their own run folder;
#   give each its own USER too, since the end of a run kills every process of its user.
set -euo pipefail

# the fresh folders of a run, and the variables that point the command's HOME, temporary files
# and caches into them (the same layout as backoffice/util/run_folder.py)
LAYOUT=(home work tmp cache)

setup() {
  local user
  for user in "$@"; do
    id "$user" >/dev/null 2>&1 || sudo useradd --create-home --shell /bin/bash "$user"
  done
}

as_user() {
  local user=$1
  shift
  sudo -n -u "$user" -- "$@"
}

end_user() {
  # every process of the user, however it detached itself: the user's own `kill -1` reaches
  # all of them in one pass no fork escapes (pkill reads the process list first); then
  # check that none is left
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    as_user "$1" kill -KILL -1 2>/dev/null || true
    pgrep -u "$1" >/dev/null || return 0
    sleep 0.5
  done
  echo "::error title=Sandbox::processes of $1 survived the end of their step" >&2
  exit 1
}

checked_relative() {
  # a path inside the work folder: relative, no `..`, no empty part
  case "/$1/" in
    //* | */../* | */./* | *//*) echo "sandbox.sh: '$1' must be a relative path inside the work folder" >&2; exit 2 ;;
  esac
}

# run as the user in its run folder: a tar of the --out paths that exist; a path through a
# link (a folder of it replaced by a link) is refused; links inside are packed as links, and
# the take-over refuses them
# shellcheck disable=SC2016
PACK='cd "$1/work" && shift
for p; do
  d=$(dirname -- "$p")
  if [ "$d" != . ] && [ -e "$d" ] && [ "$(cd -P -- "$d" && pwd)" != "$(pwd -P)/$d" ]; then
    echo "sandbox.sh: refused $p: a link in its path" >&2
    exit 3
  fi
done
for p; do if [ -e "$p" ] || [ -L "$p" ]; then printf "%s\0" "$p"; fi; done | tar --null -T - -cf -'

take_over() {
  # `backoffice take-over` of the checkout this script belongs to, run by $SANDBOX_PYTHON
  # (default python3, which must have the backoffice's requirements)
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "${SANDBOX_PYTHON:-python3}" -m backoffice take-over "$@"
}

remove_run() {
  # as the user (it can remove no more than it could anyway), after its processes are gone
  local user=$1 dir=$2
  as_user "$user" sh -c 'chmod -R u+rwx -- "$1" 2>/dev/null; rm -rf --one-file-system -- "$1"' sh "$dir" || true
  if [ -e "$dir" ] || [ -L "$dir" ]; then
    echo "::error title=Sandbox::the run folder $dir of $user could not be removed" >&2
    exit 1
  fi
}

run() {
  local base=${SANDBOX_BASE:-/tmp} user="" ins=() outs=() invars=() sweep=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --in) checked_relative "${2:?--in needs a path}"; ins+=("$2"); shift 2 ;;
      --in-var)
        [[ "${2:-}" =~ ^[A-Za-z_][A-Za-z0-9_]*=.+$ ]] || { echo "sandbox.sh: --in-var needs NAME=PATH, not '${2:-}'" >&2; exit 2; }
        checked_relative "${2#*=}"; ins+=("${2#*=}"); invars+=("$2"); shift 2 ;;
      --out) checked_relative "${2:?--out needs a path}"; outs+=("$2"); shift 2 ;;
      --base) base=${2:?--base needs a folder}; shift 2 ;;
      --sweep) sweep=1; shift ;;
      --) shift; break ;;
      -*) echo "sandbox.sh: unknown option $1" >&2; exit 2 ;;
      *) if [ -z "$user" ]; then user=$1; shift; else break; fi ;;
    esac
  done
  [ -n "$user" ] && [ $# -gt 0 ] || { echo "usage: sandbox.sh run [--in PATH]... [--in-var NAME=PATH]... [--out PATH]... [--base DIR] [--sweep] USER CMD..." >&2; exit 2; }
  [ "$(id -u "$user")" != 0 ] && [ "$(id -u "$user")" != "$(id -u)" ] || { echo "sandbox.sh: '$user' must be an unprivileged user other than us" >&2; exit 2; }

  local dir rc=0 name
  dir=$(as_user "$user" mktemp -d "$base/sandbox.XXXXXXXXXX")
  trap 'end_user "$user"; remove_run "$user" "$dir"' EXIT
  as_user "$user" sh -c 'cd "$1" && shift && mkdir -m 0700 -- "$@"' sh "$dir" "${LAYOUT[@]}"
  if [ ${#ins[@]} -gt 0 ]; then
    tar -cf - -- "${ins[@]}" | as_user "$user" tar -C "$dir/work" --no-same-owner -xf -
  fi
  # an explicit, secret-free environment: nothing else of the runner's is inherited
  local vars=("PATH=/tmp/micromamba-bin:$PATH" "HOME=$dir/home" "TMPDIR=$dir/tmp" "TMP=$dir/tmp" "TEMP=$dir/tmp" "XDG_CACHE_HOME=$dir/cache"
    "XDG_CONFIG_HOME=$dir/home/.config" "XDG_DATA_HOME=$dir/home/.local/share" "XDG_STATE_HOME=$dir/home/.local/state"
    "BIOIMAGEIO_CACHE_PATH=$dir/cache/bioimageio" "MAMBA_ROOT_PREFIX=$dir/home/micromamba" "LANG=C.UTF-8" "USER=$user")
  for name in GITHUB_ACTIONS PIP_ONLY_BINARY BACKOFFICE_STORAGE BACKOFFICE_PUBLIC_BASE_URL \
    BACKOFFICE_S3_ENDPOINT_URL BACKOFFICE_S3_BUCKET BACKOFFICE_S3_PREFIX BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS; do
    [ -z "${!name:-}" ] || vars+=("$name=${!name}")
  done
  vars+=("SANDBOX_RUN=$dir")
  for name in ${invars[@]+"${invars[@]}"}; do
    vars+=("${name%%=*}=$dir/work/${name#*=}")
  done
  as_user "$user" env -i -C "$dir/work" "${vars[@]}" "$@" || rc=$?
  end_user "$user"
  if [ ${#outs[@]} -gt 0 ]; then
    # read as the user (a link can reach nothing it could not read anyway), checked and
    # written by us: regular files and folders only
    as_user "$user" sh -c "$PACK" sh "$dir" "${outs[@]}" | take_over --into . || { [ "$rc" != 0 ] || rc=1; }
    end_user "$user"
  fi
  trap - EXIT
  remove_run "$user" "$dir"
  if [ "$sweep" = 1 ]; then
    # what the user left elsewhere in the world-writable folders, as the user itself
    as_user "$user" env -C / find /tmp /var/tmp /dev/shm -xdev -mindepth 1 -maxdepth 1 -user "$user" \
      -exec rm -rf --one-file-system -- {} + 2>/dev/null || true
  fi
  return "$rc"
}

cmd=${1:?usage: sandbox.sh setup USER... | run [--in PATH]... [--out PATH]... USER CMD...}
shift
case "$cmd" in
  setup) setup "$@" ;;
  run) run "$@" ;;
  *) echo "sandbox.sh: unknown command $cmd" >&2; exit 2 ;;
esac
