"""Run a command as the sandbox user: an unprivileged throwaway Unix user (`BACKOFFICE_SANDBOX_USER`,
made by `scripts/sandbox.sh setup` in the workflows), with a fixed environment of four variables.

A process of another user can read neither `/proc/<pid>/environ` nor the memory of ours, so
code that an upload subverts there (an image decoder's flaw) reaches no secret of the calling
job. Every process of the user is killed when the command returns (also one that detached
itself, outlived a timeout or holds the output open: the output goes to a file, so we never
wait for such a process): the user must be dedicated to this. The user itself sends
`kill -KILL -1`, which the kernel delivers to all its processes in one pass that no fork
escapes (a process that keeps replacing itself slips through a `pkill`, which reads the
process list first); then no process of the user may be left (zombies aside), else
SandboxError stops the step.

As root the command starts as that user directly (uid, gid, no supplementary groups);
otherwise through `sudo -n -u <user> --` (the runner's passwordless sudo). `prlimit` caps its
processes and the size of the files it writes.

Each command gets a run folder of its own (issue 26): `<tmp>/backoffice-sandbox-<random>`, made
by the user (mode 0700), holding an empty HOME, working folder, temporary folder and cache
(`util/run_folder.py`); after its processes are killed the user removes it with all it left.
Nothing one run writes there is seen by the next.
"""

from __future__ import annotations

import os
import pwd
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError, SandboxError
from . import cmd
from .run_folder import LAYOUT, run_environ

FIXED_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_PROCESSES = 64
"""Most processes the user may have at once (a fork bomb stops there)."""
MAX_FILE_BYTES = 1024**3
"""Largest file the user's processes may write (its output file included): no filling the disk."""


def sandbox_account(user: str) -> pwd.struct_passwd:
    """The user's account; refused when it does not exist or is root or ourselves."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"sandbox user '{user}' does not exist (BACKOFFICE_SANDBOX_USER; create it with scripts/sandbox.sh setup)") from None
    if account.pw_uid == 0 or account.pw_uid == os.geteuid():
        raise ConfigError(f"sandbox user '{user}' must be an unprivileged user other than the one running the backoffice")
    return account


def sandbox_environ(account: pwd.struct_passwd, folder: Path) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing of ours is inherited; its HOME,
    temporary files and caches are in its run folder `folder`."""
    return {"PATH": FIXED_PATH, "LANG": "C.UTF-8", "USER": account.pw_name, **run_environ(folder)}


def new_run_folder() -> Path:
    """The name of a fresh run folder: unpredictable, made by the user itself (`plan_folder`)."""
    return Path(tempfile.gettempdir()) / f"backoffice-sandbox-{secrets.token_hex(16)}"


def _as_user(account: pwd.struct_passwd, args: Sequence[str | Path], root: bool) -> list[str]:
    """argv that runs `args` as the user (as root: run it with the user's ids)."""
    return [str(a) for a in args] if root else ["sudo", "-n", "-u", account.pw_name, "--", *(str(a) for a in args)]


def plan_folder(user: str, folder: Path, *, root: bool) -> tuple[list[str], list[str]]:
    """(argv that makes the run folder, argv that removes it with all in it), both run as the user:
    it can remove no more than it could anyway. `mkdir` without `-p` fails on a planted name."""
    account = sandbox_account(user)
    make = ["mkdir", "-m", "0700", "--", str(folder), *(str(folder / name) for name in LAYOUT)]
    remove = ["sh", "-c", 'chmod -R u+rwx -- "$1" 2>/dev/null; rm -rf --one-file-system -- "$1"', "sh", str(folder)]
    return _as_user(account, make, root), _as_user(account, remove, root)


def plan_command(user: str, args: Sequence[str | Path], *, root: bool, folder: Path,
                 cwd: Path | None = None) -> tuple[list[str], tuple[int, int] | None, list[str]]:
    """(argv, (uid, gid) to switch to or None, the argv that ends every process of the user afterwards).
    The command runs in `cwd`, else in the run folder's `work`."""
    account = sandbox_account(user)
    # util-linux's prlimit, run as the user, lowers its own limits, then runs the command
    argv = ["prlimit", f"--nproc={MAX_PROCESSES}", f"--fsize={MAX_FILE_BYTES}", "--", *(str(a) for a in args)]
    workdir = str(cwd if cwd is not None else folder / "work")
    kill_all = ["kill", "-KILL", "-1"]  # sent by the user: every process of it but this one
    if root:
        return ["env", "-C", workdir, *argv], (account.pw_uid, account.pw_gid), kill_all
    env = [f"{k}={v}" for k, v in sandbox_environ(account, folder).items()]
    return (_as_user(account, ["env", "-i", "-C", workdir, *env, *argv], root), None, _as_user(account, kill_all, root))


def live_processes(uid: int) -> list[int]:
    """Processes whose real user is `uid`, zombies aside (dead; their parent may be slow to reap them)."""
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and not fields.get("State", "").strip().startswith("Z"):
            out.append(int(entry.name))
    return out


def end_user(user: str, end: Sequence[str], ids: tuple[int, int] | None, attempts: int = 5) -> None:
    """Kill every process of `user` (with `end`, run as that user) until none is left."""
    uid = sandbox_account(user).pw_uid
    env = {"PATH": os.environ.get("PATH", FIXED_PATH)}
    for attempt in range(attempts):
        cmd.run(end, env=env, timeout=30, as_user=ids)  # exit 1 or 0 alike: what counts is what is left
        if not live_processes(uid):
            return
        time.sleep(0.2 * (attempt + 1))
    left = live_processes(uid)
    if left:
        raise SandboxError(f"{len(left)} process(es) of sandbox user '{user}' survived being killed (pids {', '.join(map(str, left[:5]))})")


def run_as(user: str, args: Sequence[str | Path], *, timeout: float, cwd: Path | None = None,
           output_limit: int | None = None) -> cmd.CmdResult:
    """Run `args` as `user` with the fixed environment in a fresh run folder (in `cwd` if given,
    else the folder's `work`), then kill every process of that user and remove the folder.
    `output_limit`: keep only the last that many bytes of its output."""
    root = os.geteuid() == 0
    account = sandbox_account(user)
    folder = new_run_folder()
    argv, ids, end = plan_command(user, args, root=root, folder=folder, cwd=cwd)
    make, remove = plan_folder(user, folder, root=root)
    # sudo itself (root's process) gets only PATH; the command gets the fixed environment from `env -i`
    ours = {"PATH": os.environ.get("PATH", FIXED_PATH)}
    try:
        made = cmd.run(make, env=ours, timeout=30, as_user=ids)
        if not made.ok:
            raise SandboxError(f"sandbox user '{user}' could not make its run folder {folder}: {made.tail(1)}")
        return cmd.run(argv, env=sandbox_environ(account, folder) if root else ours, timeout=timeout, as_user=ids,
                       output_file=True, output_limit=output_limit)
    finally:
        end_user(user, end, ids)
        cmd.run(remove, env=ours, timeout=120, as_user=ids)
        if os.path.lexists(folder):
            raise SandboxError(f"the run folder {folder} of sandbox user '{user}' could not be removed")
