"""The thumbnail child's entry point (`thumbnail_child.py` starts it): render every cover of
its job with `thumbnails.render_thumbnail` and print the results as one marked line. A module
of its own, so that the parent's side (`thumbnail_child`) and the renderer (`thumbnails`) do not
import each other."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from .thumbnail_child import RESULT_MARKER
from .thumbnail_plan import ThumbnailLimits
from .thumbnails import CoverProblem, render_thumbnail


def main(folder_name: str) -> None:
    """The child: render every cover of `job.json`; print the results as one marked line."""
    folder = Path(folder_name)
    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    limits = ThumbnailLimits(**job["limits"])
    results: list[dict[str, Any]] = []
    for i, path in enumerate(job["paths"]):
        try:
            png, notes = render_thumbnail((folder / "in" / str(i)).read_bytes(), str(path), limits)
        except CoverProblem as e:
            results.append({"png": None, "notes": [], "problem": str(e)})
            continue
        results.append({"png": None if png is None else base64.b64encode(png).decode(), "notes": notes, "problem": None})
    sys.stdout.write(RESULT_MARKER + json.dumps(results) + "\n")
    sys.stdout.flush()
