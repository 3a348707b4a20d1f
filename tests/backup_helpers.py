"""Published versions for backup tests, written straight into the records."""

from __future__ import annotations

import time
from typing import Any

from ruamel.yaml import YAML

from backoffice.backup.retry import RetryPolicy
from backoffice.backup.zenodo import ZenodoClient
from backoffice.context import Context
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord
from backoffice_fixtures import SECRETS

TOKEN = SECRETS["BACKOFFICE_ZENODO_TOKEN"]
CID = "affable-shark"


def rdf_text(cid: str, version: str, **fields: Any) -> bytes:
    rdf: dict[str, Any] = {
        "type": "model", "id": cid, "name": f"Shark {cid}", "version": version, "description": "A tiny <model> & more",
        "license": "CC-BY-4.0", "tags": ["unet", "bioimage.io", "segmentation"],
        "authors": [{"name": "Ada Lovelace", "affiliation": "Analytical Engines", "orcid": "0000-0002-1825-0097"}],
        "cite": [{"text": "A paper", "doi": "https://doi.org/10.1234/paper.5"}],
    }
    rdf.update(fields)
    rdf = {k: v for k, v in rdf.items() if v is not None}
    import io

    out = io.StringIO()
    YAML(typ="safe").dump(rdf, out)  # pyright: ignore[reportUnknownMemberType]
    return out.getvalue().encode()


def files_of(cid: str, version: str, **fields: Any) -> dict[str, bytes]:
    return {"rdf.yaml": rdf_text(cid, version, **fields), "weights.pt": b"w" * 3000,
            "doc/README.md": b"# shark\n", "cover.png": b"\x89PNG" + bytes(range(256))}


def add_published(ctx: Context, cid: str = CID, versions: tuple[str, ...] = ("1.0",), **fields: Any) -> None:
    """A concept with published versions (not backed up) and their files."""
    record = ctx.concepts.find(cid) or ConceptRecord(id=cid, type="model", owners=["up@example.org"])
    for v in versions:  # existing version records stay as they are; files are (re)written
        record.versions.setdefault(v, VersionRecord(version=v, draft_token=f"tok-{v}", summary=ResourceSummary(name="Shark", version=v)))
        for name, data in files_of(cid, v, **fields).items():
            ctx.storage.put_bytes(keys.version_files(cid, v) + name, data)
    if ctx.concepts.find(cid) is None:
        ctx.concepts.create(record)
    else:
        ctx.concepts.save(record)


def client(url: str, give_up: float = 0.0, sleeps: list[float] | None = None) -> ZenodoClient:
    def sleep(seconds: float) -> None:  # recorded, not waited for (a pause keeps the clock moving)
        if sleeps is not None:
            sleeps.append(seconds)
        time.sleep(min(seconds, 0.005))

    return ZenodoClient(url, TOKEN, policy=RetryPolicy(give_up_after=give_up, backoff=0.01, max_backoff=0.05), sleep=sleep)
