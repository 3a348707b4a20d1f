"""A fresh folder per run of uploaded code (issue 26): its HOME, working folder, temporary
folder and caches, so that nothing one resource's code writes (a `.env` that sets the next
check's settings, a bioimageio cache entry named with another resource's digest) is read by
another resource's check. `scripts/sandbox.sh run` makes the same layout in bash."""

from __future__ import annotations

from pathlib import Path

LAYOUT = ("home", "work", "tmp", "cache")
"""The folders of a run folder, made empty for each run."""


def run_environ(folder: Path) -> dict[str, str]:
    """The variables that point a process's HOME, temporary files and every cache derived from
    them (XDG, bioimageio's) into the run folder `folder`."""
    home, tmp, cache = folder / "home", folder / "tmp", folder / "cache"
    return {
        "HOME": str(home), "TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp),
        "XDG_CACHE_HOME": str(cache), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_STATE_HOME": str(home / ".local" / "state"),
        "BIOIMAGEIO_CACHE_PATH": str(cache / "bioimageio"),
    }


def make_run_folder(folder: Path) -> dict[str, str]:
    """Make `folder` (new) with the empty, private folders of `LAYOUT`; its `run_environ`."""
    folder.mkdir(mode=0o700)
    for name in LAYOUT:
        (folder / name).mkdir(mode=0o700)
    return run_environ(folder)
