"""Pillow decodes uploaded images in a child process of its own, whose environment holds no
secret (`util/child_environ.py`): a flaw in an image decoder reaches neither the storage
credentials nor the tokens of the staging job.

The parent writes the covers and `job.json` into a fresh folder; the child
(`python -I -c ... main(folder)`) renders each with `thumbnails.render_thumbnail` and writes
`out/<n>.png` and `result.json`; the parent reads them back. A child that crashes or runs
out of time yields a problem for each cover, never a failed upload.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..util import cmd
from ..util.child_environ import child_environ
from .thumbnail_plan import ThumbnailLimits

CHILD_TIMEOUT = 300.0
"""Seconds the child may take for all covers of one package."""
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding `backoffice/`: the child imports the same code as the parent."""
_ENTRY = "import sys; sys.path.insert(0, sys.argv[1]); from backoffice.stage.thumbnail_child import main; main(sys.argv[2])"


@dataclass
class Rendered:
    """One cover's outcome."""

    png: bytes | None = None
    """The thumbnail (None: the cover is small enough, or a problem)."""
    notes: list[str] = field(default_factory=list[str])
    problem: str | None = None
    """Why there is no thumbnail (the cover cannot be rendered)."""


def render_in_child(covers: Sequence[tuple[str, bytes]], limits: ThumbnailLimits,
                    secret_values: Iterable[str] = ()) -> list[Rendered]:
    """Render `(path, bytes)` covers in a child process without secrets."""
    if not covers:
        return []
    with tempfile.TemporaryDirectory(prefix="backoffice-thumbs-") as tmp:
        folder = Path(tmp)
        (folder / "in").mkdir()
        (folder / "out").mkdir()
        for i, (_, data) in enumerate(covers):
            (folder / "in" / str(i)).write_bytes(data)
        job = {"limits": asdict(limits), "paths": [p for p, _ in covers]}
        (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")
        done = cmd.run([sys.executable, "-I", "-c", _ENTRY, str(_PACKAGE_ROOT), str(folder)],
                       env=child_environ(secret_values), timeout=CHILD_TIMEOUT)
        try:
            results: list[dict[str, Any]] = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            why = "timed out" if done.timed_out else f"ended with exit code {done.returncode}"
            return [Rendered(problem=f"the image decoder {why}; no thumbnail") for _ in covers]
        out: list[Rendered] = []
        for i, r in enumerate(results):
            png = folder / "out" / f"{i}.png"
            out.append(Rendered(png.read_bytes() if r.get("png") else None, [str(n) for n in r.get("notes", [])],
                                None if r.get("problem") is None else str(r["problem"])))
        return out + [Rendered(problem="the image decoder stopped early; no thumbnail")] * (len(covers) - len(out))


def main(folder_name: str) -> None:
    """The child: render every cover of `job.json`, write `out/<n>.png` and `result.json`."""
    from .thumbnails import CoverProblem, render_thumbnail

    folder = Path(folder_name)
    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    limits = ThumbnailLimits(**job["limits"])
    results: list[dict[str, Any]] = []
    for i, path in enumerate(job["paths"]):
        try:
            png, notes = render_thumbnail((folder / "in" / str(i)).read_bytes(), str(path), limits)
        except CoverProblem as e:
            results.append({"png": False, "notes": [], "problem": str(e)})
            continue
        if png is not None:
            (folder / "out" / f"{i}.png").write_bytes(png)
        results.append({"png": png is not None, "notes": notes, "problem": None})
    (folder / "result.json").write_text(json.dumps(results), encoding="utf-8")
