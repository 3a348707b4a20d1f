"""Cover thumbnails made at staging: planned by a pure function, rendered with Pillow,
listed in the staged description and collection.json; bad images are warnings only."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from ruamel.yaml import YAML

from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord
from backoffice.records.status import DraftStatus
from backoffice.review.publish import publish
from backoffice.stage.stage import stage
from backoffice.stage.thumbnail_plan import ThumbnailLimits, fit, needs_thumbnail, plan_thumbnails, thumbnail_name
from backoffice.stage.thumbnails import CoverProblem, render_thumbnail
from package_edits import edit_package

REVIEWER = "github|10000001"
LIMITS = ThumbnailLimits()


# --------------------------------------------------------------------------
# images built with Pillow
# --------------------------------------------------------------------------


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    """A gradient image (compresses, but is not trivially flat)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (gradient, gradient.rotate(90).resize((width, height)), gradient)) if mode == "RGB" else gradient
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def animated_gif(width: int = 900, height: int = 450, frames: int = 4) -> bytes:
    images = [Image.new("P", (width, height), color=i * 40) for i in range(frames)]
    for i, im in enumerate(images):
        im.paste(200, (i * 50, 0, i * 50 + 100, 100))
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header claims a huge size (the IHDR rewritten, CRC fixed)."""
    data = bytearray(png(1, 1, "L"))
    # signature (8) + length (4) + b"IHDR" (4) + width, height ...
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


# --------------------------------------------------------------------------
# planning (pure)
# --------------------------------------------------------------------------


def test_plan_names_sizes_and_refusals() -> None:
    assert thumbnail_name("cover.png") == "cover.thumbnail.png"
    assert thumbnail_name("images/anim.gif") == "images/anim.thumbnail.png"
    entries = {"cover.png": 10, "images/anim.gif": 10, "huge.png": 10**9, "x.png": 5, "x.thumbnail.png": 5}
    plan = plan_thumbnails(
        ["./cover.png", "https://example.org/remote.png", "images/anim.gif", "cover.png", "missing.png",
         "huge.png", "x.png", "x.thumbnail.png", "../outside.png"],
        entries, LIMITS,
    )
    assert [(j.cover, j.path, j.thumbnail) for j in plan.jobs] == [
        ("./cover.png", "cover.png", "cover.thumbnail.png"),
        ("images/anim.gif", "images/anim.gif", "images/anim.thumbnail.png"),
    ]
    joined = "\n".join(plan.warnings)
    for name in ("missing.png", "huge.png", "x.png", "../outside.png"):
        assert f"cover '{name}'" in joined
    assert "remote.png" not in joined
    assert fit(4000, 2000, LIMITS) == (600, 300)
    assert fit(100, 1000, LIMITS) == (34, 340)
    assert fit(300, 100, LIMITS) == (300, 100)  # never upscaled
    assert needs_thumbnail(601, 10, 10, LIMITS) and needs_thumbnail(10, 10, 600_000, LIMITS)
    assert not needs_thumbnail(600, 340, 500_000, LIMITS)


def test_render_keeps_aspect_and_refuses_bad_images() -> None:
    data, notes = render_thumbnail(png(4000, 2000), "cover.png", LIMITS)
    assert data is not None and size_of(data) == (600, 300) and len(data) < LIMITS.max_bytes and notes == []
    small, _ = render_thumbnail(png(200, 100), "small.png", LIMITS)
    assert small is None
    gif, notes = render_thumbnail(animated_gif(), "anim.png", LIMITS)  # named .png: it lies
    assert gif is not None and size_of(gif) == (600, 300)
    assert notes and "GIF" in notes[0]
    with pytest.raises(CoverProblem, match="decompression bomb"):
        render_thumbnail(bomb_png(), "bomb.png", LIMITS)
    with pytest.raises(CoverProblem, match="decompression bomb"):  # under Pillow's own limit, over ours
        render_thumbnail(png(2000, 1000), "big.png", ThumbnailLimits(max_pixels=1_000_000))
    with pytest.raises(CoverProblem, match="truncated or corrupt"):
        render_thumbnail(png(4000, 2000)[:5000], "cut.png", LIMITS)
    bmp = io.BytesIO()
    Image.new("RGB", (800, 400)).save(bmp, format="BMP")
    with pytest.raises(CoverProblem, match="not a PNG, JPEG or GIF"):
        render_thumbnail(bmp.getvalue(), "cover.png", LIMITS)


def test_noisy_photo_thumbnail_stays_under_byte_limit() -> None:
    noise = Image.effect_noise((1200, 680), 120).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, format="JPEG", quality=95)
    data, _ = render_thumbnail(buf.getvalue(), "photo.jpg", LIMITS)
    assert data is not None and len(data) <= LIMITS.max_bytes and size_of(data) == (600, 340)
    data, _ = render_thumbnail(buf.getvalue(), "photo.jpg", ThumbnailLimits(max_bytes=60_000))
    assert data is not None and len(data) <= 60_000 and max(size_of(data)) <= 600


# --------------------------------------------------------------------------
# staging -> collection.json
# --------------------------------------------------------------------------


def package_with_covers(src: Path, out: Path, covers: dict[str, bytes]) -> Path:
    """The dataset package with `covers` added as files and listed as its covers."""
    return edit_package(src, out, lambda rdf: rdf.update(covers=list(covers)), covers)


def _publish_as_is(ctx: Context, cid: str) -> None:
    def mutate(record: ConceptRecord) -> None:
        record.set_draft_status(DraftStatus.TESTING)
        record.set_draft_status(DraftStatus.AWAITING_REVIEW)

    ctx.concepts.update(cid, mutate)
    publish(ctx, cid, REVIEWER)


def test_staging_makes_thumbnails_listed_in_collection_json(
    ctx: Context, packages: dict[str, Path], tmp_path: Path
) -> None:
    pkg = package_with_covers(packages["dataset"], tmp_path / "covers.zip", {
        "big.png": png(4000, 2000),
        "images/anim.gif": animated_gif(),
        "bomb.png": bomb_png(),
        "cut.png": png(4000, 2000)[:5000],
        "small.png": png(200, 100),
    })
    staged = stage(ctx, str(pkg), uploader="github|7", progress=False)
    cid = staged.concept_id
    draft = ctx.concepts.get(cid).require_draft()
    files = keys.draft_files(cid, draft.token)
    assert draft.summary.thumbnails == {"big.png": "big.thumbnail.png", "images/anim.gif": "images/anim.thumbnail.png"}
    rdf: Any = YAML(typ="safe").load(ctx.storage.get_bytes(files + "rdf.yaml").decode())
    assert rdf["config"]["bioimageio"]["thumbnails"] == draft.summary.thumbnails
    for thumb in draft.summary.thumbnails.values():
        data = ctx.storage.get_bytes(files + thumb)
        w, h = size_of(data)
        assert w <= 600 and h <= 340 and abs(w / h - 2) < 0.01 and len(data) < 500_000
    # the bomb and the truncated file: warnings naming them, logged; the draft staged
    assert any("cover 'bomb.png'" in w and "bomb" in w for w in draft.warnings), draft.warnings
    assert any("cover 'cut.png'" in w for w in draft.warnings), draft.warnings
    assert not any("small.png" in w for w in draft.warnings)
    logged = [e.message for e in ctx.log(cid).read()]
    assert any("bomb.png" in m for m in logged)

    _publish_as_is(ctx, cid)
    generate_index(ctx)
    collection = json.loads(ctx.storage.get_bytes(keys.COLLECTION_JSON))
    (entry,) = [e for e in collection["collection"] if e["id"] == cid]
    big = ctx.storage.public_url(keys.version_files(cid, staged.version) + "big.png")
    assert entry["thumbnails"][big] == ctx.storage.public_url(keys.version_files(cid, staged.version) + "big.thumbnail.png")
    assert len(entry["thumbnails"]) == 2
    for url in entry["thumbnails"].values():
        key = url.removeprefix(ctx.storage.public_url("x")[:-1])
        data = ctx.storage.get_bytes(key)
        assert max(size_of(data)) <= 600 and len(data) < 500_000
