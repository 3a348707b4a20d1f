"""Run a command as the sandbox user: an unprivileged throwaway Unix user (`BACKOFFICE_SANDBOX_USER`,
made by `scripts/sandbox.sh setup` in the workflows), with a fixed environment of four variables.

A process of another user can read neither `/proc/<pid>/environ` nor the memory of ours, so
code that an upload subverts there (an image decoder's flaw) reaches no secret of the calling
job. Every process of the user is killed when the command returns (also one that detached
itself, outlived a timeout or holds the output open: the output goes to a file, so we never
wait for such a process): the user must be dedicated to this.

As root the command starts as that user directly (uid, gid, no supplementary groups);
otherwise through `sudo -n -u <user> --` (the runner's passwordless sudo). `prlimit` caps its
processes and the size of the files it writes.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from . import cmd

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


def sandbox_environ(account: pwd.struct_passwd) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing of ours is inherited."""
    return {"PATH": FIXED_PATH, "HOME": account.pw_dir, "LANG": "C.UTF-8", "USER": account.pw_name}


def plan_command(user: str, args: Sequence[str | Path], *, root: bool) -> tuple[list[str], tuple[int, int] | None, list[str]]:
    """(argv, (uid, gid) to switch to or None, the argv that ends every process of the user afterwards)."""
    account = sandbox_account(user)
    # util-linux's prlimit, run as the user, lowers its own limits, then runs the command
    argv = ["prlimit", f"--nproc={MAX_PROCESSES}", f"--fsize={MAX_FILE_BYTES}", "--", *(str(a) for a in args)]
    if root:
        return argv, (account.pw_uid, account.pw_gid), ["pkill", "-KILL", "-u", str(account.pw_uid)]
    env = [f"{k}={v}" for k, v in sandbox_environ(account).items()]
    return (["sudo", "-n", "-u", account.pw_name, "--", "env", "-i", *env, *argv], None,
            ["sudo", "-n", "pkill", "-KILL", "-u", str(account.pw_uid)])


def run_as(user: str, args: Sequence[str | Path], *, timeout: float, cwd: Path | None = None,
           output_limit: int | None = None) -> cmd.CmdResult:
    """Run `args` as `user` with the fixed environment, then kill every process of that user.
    `output_limit`: keep only the last that many bytes of its output."""
    root = os.geteuid() == 0
    argv, ids, end = plan_command(user, args, root=root)
    # sudo itself (root's process) gets only PATH; the command gets the fixed environment from `env -i`
    env = sandbox_environ(sandbox_account(user)) if root else {"PATH": os.environ.get("PATH", FIXED_PATH)}
    try:
        return cmd.run(argv, env=env, timeout=timeout, cwd=cwd, as_user=ids, output_file=True, output_limit=output_limit)
    finally:
        cmd.run(end, timeout=30)  # exit code 1: no process was left
