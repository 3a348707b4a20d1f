"""Render the thumbnails `thumbnail_plan` asks for, with Pillow.

Nothing an uploaded image does can fail the upload: an unsupported format, a file
that is not what its name says, a truncated file, or a decompression bomb (checked
against the configured pixel limit from the header, before any pixel is decoded)
becomes a warning that names the cover.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..log import logger
from .thumbnail_plan import ThumbnailLimits, fit, needs_thumbnail, plan_thumbnails

FORMATS = ("PNG", "JPEG", "GIF")
"""Cover formats bioimage.io accepts."""
_EXTENSIONS = {"PNG": (".png",), "JPEG": (".jpg", ".jpeg"), "GIF": (".gif",)}


class CoverProblem(Exception):
    """A cover that cannot be made into a thumbnail (the message says why)."""


@dataclass
class ThumbnailResult:
    files: dict[str, bytes] = field(default_factory=dict)
    """Thumbnail path -> PNG bytes."""
    mapping: dict[str, str] = field(default_factory=dict)
    """Cover reference -> thumbnail path (the description's `config.bioimageio.thumbnails`)."""
    warnings: list[str] = field(default_factory=list)
    """One line per problem, each naming its cover."""


def _encode_png(image: object, limits: ThumbnailLimits) -> bytes:
    """PNG bytes under `limits.max_bytes`: lossless if that fits, else fewer colours, then smaller."""
    from PIL import Image

    assert isinstance(image, Image.Image)

    def encode(im: Image.Image) -> bytes:
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    data = encode(image)
    while len(data) > limits.max_bytes:
        # noisy photographs: a palette bounds the size (at most one byte per pixel)
        for colors in (256, 64, 16):
            data = encode(image.quantize(colors=colors))
            if len(data) <= limits.max_bytes or min(image.size) <= 1:
                return data
        image = image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.LANCZOS)
    return data


def render_thumbnail(data: bytes, path: str, limits: ThumbnailLimits) -> tuple[bytes | None, list[str]]:
    """(PNG bytes or None when the cover is small enough, notes) for one cover file.

    Raises CoverProblem for anything that cannot be rendered.
    """
    from PIL import Image, UnidentifiedImageError

    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # our own pixel limit applies (below); Pillow's process-wide one only warns before it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            try:
                fmt = str(im.format)
                width, height = im.size
                if width * height > limits.max_pixels:
                    raise CoverProblem(
                        f"{width}×{height} pixels is more than the limit of {limits.max_pixels} "
                        "(decompression bomb?); no thumbnail"
                    )
                if not path.lower().endswith(_EXTENSIONS.get(fmt, ())):
                    notes.append(f"cover '{path}': the file is a {fmt} image, not what its name says")
                if not needs_thumbnail(width, height, len(data), limits):
                    return None, notes
                size = fit(width, height, limits)
                if fmt == "JPEG":
                    im.draft("RGB", size)  # decode at a reduced scale where JPEG allows it
                im.seek(0)  # an animated GIF: its first frame
                has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
                frame = im.convert("RGBA" if has_alpha else "RGB")
            finally:
                im.close()
    except CoverProblem:
        raise
    except Image.DecompressionBombError as e:
        raise CoverProblem(f"decompression bomb ({e}); no thumbnail") from None
    except UnidentifiedImageError:
        raise CoverProblem("not a PNG, JPEG or GIF image; no thumbnail") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
        raise CoverProblem(f"cannot be read (truncated or corrupt: {e}); no thumbnail") from None
    frame.thumbnail(size, Image.Resampling.LANCZOS)
    return _encode_png(frame, limits), notes


def make_thumbnails(
    covers: Sequence[str], entries: Mapping[str, int], read: Callable[[str], bytes], limits: ThumbnailLimits,
    secret_values: Iterable[str] = (), sandbox_user: str | None = None,
) -> ThumbnailResult:
    """Thumbnails for the package's covers; `read(path)` gives a package file's bytes. Pillow runs
    in a child process (`thumbnail_child`): as `sandbox_user` if given, else as ourselves with an
    environment holding none of `secret_values`."""
    from .thumbnail_child import render_in_child

    plan = plan_thumbnails(covers, entries, limits)
    result = ThumbnailResult(warnings=list(plan.warnings))
    rendered = render_in_child([(job.path, read(job.path)) for job in plan.jobs], limits, secret_values, sandbox_user)
    for job, outcome in zip(plan.jobs, rendered, strict=True):
        if outcome.problem is not None:
            result.warnings.append(f"cover '{job.cover}': {outcome.problem}")
            continue
        result.warnings.extend(outcome.notes)
        if outcome.png is not None:
            result.files[job.thumbnail] = outcome.png
            result.mapping[job.cover] = job.thumbnail
    for w in result.warnings:
        logger.warning("%s", w)
    return result
