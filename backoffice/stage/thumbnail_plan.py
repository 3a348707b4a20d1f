"""Which covers of a package get a thumbnail, under which name and size: pure planning.

A cover larger than the configured box (width or height) or the byte threshold gets a
thumbnail beside it: `images/cover.png` -> `images/cover.thumbnail.png`, listed in the
staged description as `config: bioimageio: thumbnails: {images/cover.png: images/cover.thumbnail.png}`
(the form bioimage.io uses). Thumbnails are PNG: lossless for the plots and microscopy
images covers hold, the name bioimage.io uses, and readable by every consumer of
collection.json (browsers, and partner software in Java or Qt, whose stock image readers
lack WebP). An animated GIF's thumbnail is its first frame (a still card loads fast; the
animation stays in the cover itself, and not decoding every frame of an upload bounds
the work). Pillow does the decoding (`thumbnails.py`); nothing here reads an image.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

THUMBNAIL_SUFFIX = ".thumbnail.png"


@dataclass(frozen=True)
class ThumbnailLimits:
    """When a cover gets a thumbnail, how large it may be, and what is refused."""

    max_width: int = 600
    """Thumbnail box width (a cover wider than this gets a thumbnail)."""
    max_height: int = 340
    """Thumbnail box height (a cover taller than this gets a thumbnail)."""
    max_bytes: int = 500_000
    """A cover file larger than this gets a thumbnail; a thumbnail is kept under it."""
    max_pixels: int = 50_000_000
    """Covers with more pixels are not decoded (decompression bomb guard, per call)."""
    max_source_bytes: int = 64 * 1024 * 1024
    """Cover files larger than this are not read at all."""


@dataclass(frozen=True)
class CoverJob:
    """One cover to look at."""

    cover: str
    """The reference as written in the description (the key of the thumbnails mapping)."""
    path: str
    """Its file in the package (relative, normalised)."""
    thumbnail: str
    """File name the thumbnail gets, beside the cover."""


@dataclass(frozen=True)
class ThumbnailPlan:
    jobs: list[CoverJob]
    warnings: list[str]
    """Problems found without reading any image (each names its cover)."""


def thumbnail_name(path: str) -> str:
    """`images/cover.png` -> `images/cover.thumbnail.png`."""
    folder, name = posixpath.split(path)
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return posixpath.join(folder, stem + THUMBNAIL_SUFFIX) if folder else stem + THUMBNAIL_SUFFIX


def _package_path(cover: str) -> str | None:
    """The package-relative path of a cover reference, or None for a URL."""
    if "://" in cover:
        return None
    path = posixpath.normpath(cover)
    if path.startswith("../") or path == ".." or path.startswith("/"):
        return ""
    return path


def plan_thumbnails(covers: Sequence[str], entries: Mapping[str, int], limits: ThumbnailLimits) -> ThumbnailPlan:
    """Jobs for the covers that are files in the package (`entries`: path -> size)."""
    jobs: list[CoverJob] = []
    warnings: list[str] = []
    taken = set(entries)
    seen: set[str] = set()
    for cover in covers:
        path = _package_path(cover)
        if path is None or path in seen:
            continue  # remote covers are not fetched; duplicates once
        seen.add(path)
        if path.endswith(THUMBNAIL_SUFFIX):
            continue  # a thumbnail already
        if not path or path not in entries:
            warnings.append(f"cover '{cover}': not a file in the package; no thumbnail")
            continue
        if entries[path] > limits.max_source_bytes:
            warnings.append(
                f"cover '{cover}': {entries[path]} bytes, more than the {limits.max_source_bytes} bytes "
                "a cover may have to get a thumbnail; no thumbnail"
            )
            continue
        name = thumbnail_name(path)
        if name in taken:
            warnings.append(f"cover '{cover}': the package has a file '{name}' already; no thumbnail generated")
            continue
        taken.add(name)
        jobs.append(CoverJob(cover=cover, path=path, thumbnail=name))
    return ThumbnailPlan(jobs=jobs, warnings=warnings)


def needs_thumbnail(width: int, height: int, size_bytes: int, limits: ThumbnailLimits) -> bool:
    """Whether a cover of this size is larger than the configured size."""
    return width > limits.max_width or height > limits.max_height or size_bytes > limits.max_bytes


def fit(width: int, height: int, limits: ThumbnailLimits) -> tuple[int, int]:
    """The largest size within the box with the cover's aspect ratio (never upscaled)."""
    scale = min(limits.max_width / width, limits.max_height / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))
