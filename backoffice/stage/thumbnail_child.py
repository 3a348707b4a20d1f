"""Pillow decodes uploaded images in a child process of its own: a flaw in an image decoder
reaches neither the storage credentials nor the tokens of the staging job.

With `BACKOFFICE_SANDBOX_USER` (the workflows) the child runs as that unprivileged throwaway
user with a fixed environment (`util/sandbox_user.py`): it can read neither our
`/proc/<pid>/environ` nor our memory or private files. Without it (a maintainer's own run) it runs as
our user with an environment holding no secret (`util/child_environ.py`), and a warning says so.

The parent writes the covers and `job.json` into a fresh folder the child may read; the child
(`python -I -c ... main(folder)`, `thumbnail_entry.py`) renders each with `thumbnails.render_thumbnail` and prints one
line `RESULT_MARKER <json>` (a result per cover, thumbnails base64-encoded). The parent trusts
none of it: each thumbnail must be a PNG within the size limits (`check_png`, read from its
header, never decoded here). A child that crashes, runs out of time or answers nonsense yields
a problem for each cover, never a failed upload.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..log import logger
from ..util import cmd
from ..util.child_environ import child_environ
from ..util.sandbox_user import run_as
from .thumbnail_plan import ThumbnailLimits

CHILD_TIMEOUT = 300.0
"""Seconds the child may take for all covers of one package."""
RESULT_MARKER = "backoffice-thumbnails:"
"""Starts the child's one line of results on its output."""
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding `backoffice/`: the child imports the same code as the parent."""
_ENTRY = "import sys; sys.path.insert(0, sys.argv[1]); from backoffice.stage.thumbnail_entry import main; main(sys.argv[2])"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Rendered:
    """One cover's outcome."""

    png: bytes | None = None
    """The thumbnail (None: the cover is small enough, or a problem)."""
    notes: list[str] = field(default_factory=list[str])
    problem: str | None = None
    """Why there is no thumbnail (the cover cannot be rendered)."""


def check_png(data: bytes, limits: ThumbnailLimits) -> str | None:
    """Why `data` is no acceptable thumbnail (from the PNG signature and header only), or None."""
    if len(data) > limits.max_bytes:
        return f"{len(data)} bytes, more than {limits.max_bytes}"
    if len(data) < 33 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return "not a PNG image"
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= limits.max_width and 0 < height <= limits.max_height):
        return f"{width}x{height} pixels, outside the {limits.max_width}x{limits.max_height} box"
    return None


def parse_results(output: str, count: int, limits: ThumbnailLimits) -> list[Rendered] | None:
    """The child's answer for `count` covers, each thumbnail checked; None without a readable answer."""
    lines = [ln for ln in output.splitlines() if ln.startswith(RESULT_MARKER)]
    try:
        raw: Any = json.loads(lines[-1][len(RESULT_MARKER):]) if lines else None
    except (ValueError, RecursionError):  # nested past the parser's depth: no answer either
        return None
    if not isinstance(raw, list):
        return None
    items: list[object] = list(raw[:count])  # type: ignore[reportUnknownArgumentType]
    out = [_checked(item, limits) for item in items]
    return out + [Rendered(problem="the image decoder stopped early; no thumbnail")] * (count - len(out))


def _checked(item: object, limits: ThumbnailLimits) -> Rendered:
    bad = Rendered(problem="the image decoder gave an unreadable answer; no thumbnail")
    if not isinstance(item, dict):
        return bad
    d: dict[str, Any] = {str(k): v for k, v in item.items()}  # type: ignore[reportUnknownVariableType]
    notes, problem, png64 = d.get("notes", []), d.get("problem"), d.get("png")
    if not isinstance(notes, list) or not (problem is None or isinstance(problem, str)) or not (png64 is None or isinstance(png64, str)):
        return bad
    texts = [str(n)[:500] for n in notes[:20]]  # type: ignore[reportUnknownVariableType]
    if problem is not None:
        return Rendered(None, texts, problem[:500])
    if png64 is None:
        return Rendered(None, texts)
    try:
        png = base64.b64decode(png64, validate=True)
    except ValueError:
        return bad
    why = check_png(png, limits)
    if why is not None:
        return Rendered(problem=f"the image decoder returned an unacceptable thumbnail ({why}); no thumbnail")
    return Rendered(png, texts)


def render_in_child(covers: Sequence[tuple[str, bytes]], limits: ThumbnailLimits,
                    secret_values: Iterable[str] = (), sandbox_user: str | None = None) -> list[Rendered]:
    """Render `(path, bytes)` covers in a child process: as `sandbox_user` if given, else as
    ourselves without secrets in its environment."""
    if not covers:
        return []
    with tempfile.TemporaryDirectory(prefix="backoffice-thumbs-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)  # the sandbox user reads the covers (public upload content) and job.json
        (folder / "in").mkdir(mode=0o755)
        for i, (_, data) in enumerate(covers):
            _write_readable(folder / "in" / str(i), data)
        job = {"limits": asdict(limits), "paths": [p for p, _ in covers]}
        _write_readable(folder / "job.json", json.dumps(job).encode())
        argv = [sys.executable, "-I", "-c", _ENTRY, str(_PACKAGE_ROOT), str(folder)]
        answer_bytes = len(covers) * (limits.max_bytes * 4 // 3 + 16_384) + 65_536  # the most a right answer takes
        if sandbox_user:
            done = run_as(sandbox_user, argv, timeout=CHILD_TIMEOUT, cwd=folder, output_limit=answer_bytes)
        else:
            logger.warning("BACKOFFICE_SANDBOX_USER is not set: cover images are decoded as this process's own user,"
                           " which could read its environment (acceptable for a maintainer's own run only)")
            done = cmd.run(argv, env=child_environ(secret_values), timeout=CHILD_TIMEOUT, cwd=folder, output_file=True,
                           output_limit=answer_bytes)
        results = parse_results(done.output, len(covers), limits)
        if results is None:
            why = "timed out" if done.timed_out else f"ended with exit code {done.returncode}"
            return [Rendered(problem=f"the image decoder {why}; no thumbnail") for _ in covers]
        return results


def _write_readable(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o644)
