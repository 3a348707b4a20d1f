"""Back up published versions to Zenodo, exactly once and resumable.

For one version the executor reconciles before it creates anything:

1. a deposition recorded on the version -> Zenodo's state of it decides: published
   (an earlier run lost the answer or the write-back) -> write the DOIs back;
   a draft -> continue it;
2. else, for a concept backed up before: the latest published deposition's
   `links.latest_draft` (a draft left by an interrupted run) or a `newversion`;
3. else (first version): an unpublished deposition of the user carrying the
   concept's bioimage.io page (left by an interrupted run) or a new deposition.

The deposition id is written onto the version (conditional write) as soon as it
exists. Then the metadata is set, the files are reconciled (kept if name, size and
MD5 match, else deleted and uploaded, streamed from storage), the deposition is
published and the DOIs written back. Any failure leaves a state this same sequence
continues from; an answer lost on a request that is not idempotent restarts the
sequence (so it finds out what happened) until the give-up time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast


from ..context import Context
from ..errors import ConflictError, ValidationFailedError, ZenodoUnavailableError
from ..records import keys
from ..records.concept import ConceptRecord
from ..records.journal import utcnow
from ..records.status import VersionStatus, check_version_step
from ..util.yaml_guard import YamlRefused, load_yaml
from .metadata import is_draft_of, with_overrides, zenodo_metadata
from ..storage.base import plain_md5
from .plan import LocalFile, needs_checksum, plan_files
from .retry import next_wait, should_give_up
from .upload import ProgressLog, UploadBody, md5_of_stream
from .zenodo import Json, ZenodoClient

Say = Callable[[str], None]


def _is_published(dep: Json) -> bool:
    return bool(dep.get("submitted")) or dep.get("state") == "done"


def load_rdf(ctx: Context, cid: str, version: str) -> dict[str, Any]:
    v = ctx.concepts.get(cid).versions[version]
    data = ctx.storage.get_bytes(keys.version_files(cid, version, v.content) + v.rdf_name)
    try:  # the guard first: staged before uploads were checked for YAML bombs, or a UTF-16 one
        rdf: Any = load_yaml(data, f"{cid} {version}: {v.rdf_name}")
    except YamlRefused as e:
        raise ValidationFailedError(str(e)) from None
    if not isinstance(rdf, dict):
        raise ValidationFailedError(f"{cid} {version}: {v.rdf_name} is not a mapping")
    return rdf  # pyright: ignore[reportUnknownVariableType]


class VersionBackup:
    """The backup of one published version."""

    def __init__(self, ctx: Context, client: ZenodoClient, cid: str, version: str, say: Say) -> None:
        self.ctx = ctx
        self.client = client
        self.cid = cid
        self.version = version
        self.say = say

    # --- the record ----------------------------------------------------------
    def _remember(self, deposition_id: int) -> None:
        """Record the deposition on the version before anything is uploaded to it."""

        def mutate(record: ConceptRecord) -> None:
            v = record.versions[self.version]
            if v.zenodo_deposition_id not in (None, deposition_id):
                raise ConflictError(f"{self.cid} {self.version}: another run recorded Zenodo deposition "
                                    f"{v.zenodo_deposition_id} meanwhile (this run has {deposition_id})")
            v.zenodo_deposition_id = deposition_id

        self.ctx.concepts.update(self.cid, mutate)

    def _forget(self, deposition_id: int) -> None:
        def mutate(record: ConceptRecord) -> None:
            v = record.versions[self.version]
            if v.zenodo_deposition_id == deposition_id:
                v.zenodo_deposition_id = None

        self.ctx.concepts.update(self.cid, mutate)

    def _write_back(self, dep: Json) -> tuple[str, str]:
        if not (dep.get("doi") and dep.get("conceptdoi")):  # an answer without DOIs: ask for the deposition
            dep = self.client.get_deposition(int(dep["id"])) or {}
            if not (dep.get("doi") and dep.get("conceptdoi")):
                raise ZenodoUnavailableError(f"Zenodo: published deposition of {self.cid} {self.version} has no DOI yet",
                                             maybe_done=True)
        doi, concept_doi = str(dep["doi"]), str(dep["conceptdoi"])
        concept_recid = str(dep.get("conceptrecid") or "")
        dep_id = int(dep["id"])

        def mutate(record: ConceptRecord) -> None:
            v = record.versions[self.version]
            if v.doi is not None:
                return
            check_version_step(v.status, VersionStatus.BACKED_UP, what=f"version {self.version} of '{self.cid}'")
            v.doi = doi
            v.zenodo_deposition_id = dep_id
            v.status = VersionStatus.BACKED_UP
            v.backed_up = utcnow()
            record.concept_doi = concept_doi
            record.zenodo_concept_id = concept_recid or record.zenodo_concept_id
            record.zenodo_latest_id = dep_id

        # log first: a failed write is redone by the next run (and logged again), never lost
        self.ctx.record_step(self.cid, "backup", f"backed up version {self.version} to Zenodo: DOI {doi} (concept DOI {concept_doi})",
                             subject=self.version, details={"doi": doi, "concept_doi": concept_doi, "deposition_id": dep_id,
                                                            "zenodo": self.client.base_url})
        self.ctx.concepts.update(self.cid, mutate)
        return doi, concept_doi

    # --- finding or making the draft ------------------------------------------
    def _draft(self, record: ConceptRecord, metadata: Json) -> Json:
        recorded = record.versions[self.version].zenodo_deposition_id
        if recorded is not None:
            dep = self.client.get_deposition(recorded)
            if dep is not None:
                return dep
            self.say(f"{self.cid} {self.version}: recorded Zenodo deposition {recorded} is gone; starting again")
            self._forget(recorded)
        if record.zenodo_latest_id is not None:
            dep = self._new_version_draft(record.zenodo_latest_id)
        else:
            found = sorted((d for d in self.client.list_drafts() if is_draft_of(d, self.cid) and not _is_published(d)),
                           key=lambda d: int(d["id"]))
            if found:
                dep = found[0]
                self.say(f"{self.cid} {self.version}: continuing unpublished Zenodo deposition {dep['id']}")
            else:
                dep = self.client.create_deposition(metadata)
                self.say(f"{self.cid} {self.version}: created Zenodo deposition {dep['id']}")
                try:
                    self._remember(int(dep["id"]))
                except ConflictError:  # another run recorded its own deposition first: ours goes
                    self.client.discard(int(dep["id"]))
                    raise
                return dep
        self._remember(int(dep["id"]))
        return dep

    def _new_version_draft(self, latest_id: int) -> Json:
        latest = self.client.get_deposition(latest_id)
        if latest is None:
            raise ConflictError(f"{self.cid}: the latest Zenodo deposition {latest_id} of the concept does not exist")
        links: Any = latest.get("links")
        draft_url: Any = cast(dict[str, Any], links).get("latest_draft") if isinstance(links, dict) else None
        if draft_url:
            draft = self.client.get_deposition(str(draft_url))
            if draft is not None and not _is_published(draft):
                self.say(f"{self.cid} {self.version}: continuing unpublished Zenodo version {draft['id']}")
                return draft
        answer = self.client.new_version(latest_id)
        draft = self.client.get_deposition(str(answer["links"]["latest_draft"]))
        if draft is None or _is_published(draft):
            raise ZenodoUnavailableError(f"Zenodo: newversion of {latest_id} gave no draft", maybe_done=True)
        self.say(f"{self.cid} {self.version}: new Zenodo version {draft['id']} of deposition {latest_id}")
        return draft

    # --- files ----------------------------------------------------------------
    def _local_files(self, content: str) -> list[LocalFile]:
        prefix = keys.version_files(self.cid, self.version, content)
        return [LocalFile(name=o.key[len(prefix):], key=o.key, size=o.size, etag=o.etag)
                for o in self.ctx.storage.list(prefix)]

    def _sync_files(self, dep: Json, content: str) -> None:
        dep_id = int(dep["id"])
        local = self._local_files(content)
        remote = self.client.list_files(dep_id)
        md5: dict[str, str] = {}
        for f in needs_checksum(local, remote):
            md5[f.name] = plain_md5(f.etag) or md5_of_stream(self.ctx.storage.open(f.key))
        plan = plan_files(local, remote, md5)
        for r in plan.delete:
            self.client.delete_file(dep_id, r.file_id)
        if plan.keep:
            self.say(f"{self.cid} {self.version}: {len(plan.keep)} file(s) uploaded before, kept")
        bucket = str(dep["links"]["bucket"])
        for f in plan.upload:
            self._upload(bucket, f)

    def _upload(self, bucket: str, f: LocalFile) -> None:
        bodies: list[UploadBody] = []
        progress = ProgressLog(f.name, self.say) if f.size >= 64 * 1024 * 1024 else None

        def body() -> UploadBody:
            b = UploadBody(self.ctx.storage.open(f.key), f.size, progress)
            bodies.append(b)
            return b

        answer = self.client.upload(bucket, f.name, body)
        sent = bodies[-1].md5()
        got = str((answer or {}).get("checksum", "")).removeprefix("md5:")
        if got and got != sent:
            raise ZenodoUnavailableError(f"Zenodo: {f.name} arrived with MD5 {got}, sent {sent}", maybe_done=True)

    # --- the whole sequence ---------------------------------------------------------
    def attempt(self) -> tuple[str, str]:
        record = self.ctx.concepts.get(self.cid)
        v = record.versions[self.version]
        if v.doi is not None:
            return v.doi, record.concept_doi or ""
        rdf = with_overrides(load_rdf(self.ctx, self.cid, self.version), self.ctx.curation_of(self.cid).display_overrides())
        metadata = zenodo_metadata(self.cid, record.type, self.version, rdf, v.published.date())
        dep = self._draft(record, metadata)
        if not _is_published(dep):
            dep_id = int(dep["id"])
            self.client.update_metadata(dep_id, metadata)
            self._sync_files(dep, v.content)
            dep = self.client.publish(dep_id)
        return self._write_back(dep)

    def run(self) -> tuple[str, str]:
        """`attempt` again after a lost answer (it reconciles first), until the give-up time."""
        policy = self.client.policy
        first_failure: float | None = None
        n = 0
        while True:
            try:
                return self.attempt()
            except ZenodoUnavailableError as e:
                if not e.maybe_done:
                    raise
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                wait = next_wait(policy, n, None)
                if should_give_up(policy, first_failure, now, wait):
                    raise ZenodoUnavailableError(f"{e.message}; gave up after {n + 1} attempt(s)") from None
                self.say(f"{self.cid} {self.version}: {e.message}; checking what happened in {wait:.1f} s")
                self.client.sleep(wait)
                n += 1
