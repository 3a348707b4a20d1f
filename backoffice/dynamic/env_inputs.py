"""The files an environment is rendered from: the description and the environment
file(s) its weights entry names — fetched one by one, never the whole package (the
test itself reads the package once, from its public URL or its folder)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, cast

from ..context import Context
from ..storage.base import ObjectNotFound
from ..storage.local import LocalStorage
from ..records.target import Target
from ..description import parse_description
from .env_render import DEPENDENCY_LOCATIONS, RenderedEnv, render_env


def referenced_files(entry: dict[str, Any]) -> list[str]:
    """Relative paths of the environment files a weights entry refers to (URLs and paths
    leaving the package are left out: rendering warns about them)."""
    found: list[str] = []
    for location in DEPENDENCY_LOCATIONS:
        node: Any = entry
        for key in location:
            node = cast(dict[str, Any], node).get(key) if isinstance(node, dict) else None
        source = cast(dict[str, Any], node).get("source") if isinstance(node, dict) else node
        if not isinstance(source, str) or not source.strip():
            continue
        manager, _, rest = source.partition(":")
        if rest and not rest.startswith("//") and manager in ("conda", "mamba", "pip"):
            source = rest.strip()
        if re.match(r"^[a-z][a-z0-9+.\-]*://", source, re.I):
            continue
        rel = PurePosixPath(source.replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            continue
        found.append(rel.as_posix())
    return found


@contextmanager
def env_inputs(ctx: Context, target: Target, weights_entry_of: Any) -> Generator[tuple[bytes, Path], None, None]:
    """(rdf bytes, a folder holding the rdf and the environment files `weights_entry_of(rdf bytes)` names)."""
    if isinstance(ctx.storage, LocalStorage):
        folder = ctx.storage.root / target.files_prefix
        yield (folder / target.rdf_name).read_bytes(), folder
        return
    tmp = Path(tempfile.mkdtemp(prefix="backoffice-env-inputs-"))
    try:
        rdf = ctx.storage.get_bytes(target.rdf_key)
        (tmp / target.rdf_name).write_bytes(rdf)
        entry: Any = weights_entry_of(rdf)
        for rel in referenced_files(cast(dict[str, Any], entry)) if isinstance(entry, dict) else []:
            try:
                data = ctx.storage.get_bytes(target.files_prefix + rel)
            except ObjectNotFound:
                continue  # rendering says the file is missing
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        yield rdf, tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def render_for_target(ctx: Context, target: Target, weight_format: str) -> RenderedEnv:
    """Render the environment for one weight format of a draft or published version."""

    def entry_of(rdf: bytes) -> Any:
        weights = parse_description(rdf, target.rdf_name).get("weights")
        return cast(dict[str, Any], weights).get(weight_format) if isinstance(weights, dict) else None

    with env_inputs(ctx, target, entry_of) as (rdf, folder):  # the rdf and its environment file, not the package
        content = parse_description(rdf, target.rdf_name)
        return render_env(weight_format, content, ctx.settings.env_templates_dir, folder)
