"""A backup run over the collection: every pending version, per-version outcomes, a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..context import Context
from ..errors import BackofficeError
from ..log import logger
from .executor import Say, VersionBackup
from .plan import pending_versions
from .retry import RetryPolicy
from .zenodo import ZenodoClient

SKIPPED = "backup: skipped (no Zenodo URL or token; set BACKOFFICE_ZENODO_URL and BACKOFFICE_ZENODO_TOKEN to turn it on)"

Outcome = Literal["backed up", "failed", "waiting"]


@dataclass(frozen=True)
class VersionOutcome:
    concept_id: str
    version: str
    outcome: Outcome
    doi: str | None = None
    concept_doi: str | None = None
    error: str | None = None


@dataclass
class BackupReport:
    outcomes: list[VersionOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[VersionOutcome]:
        return [o for o in self.outcomes if o.outcome != "backed up"]

    def markdown(self, zenodo_url: str) -> str:
        lines = [f"## Zenodo backup ({zenodo_url})", ""]
        if not self.outcomes:
            return "\n".join([*lines, "Nothing to back up: every published version has its DOI."]) + "\n"
        lines += ["| concept | version | outcome | DOI / error |", "| --- | --- | --- | --- |"]
        for o in self.outcomes:
            detail = o.doi if o.outcome == "backed up" else (o.error or "")
            lines.append(f"| {o.concept_id} | {o.version} | {o.outcome} | {_cell(detail or '')} |")
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def make_client(ctx: Context) -> ZenodoClient | None:
    """A client from the settings, or None when the URL or the token is not set."""
    s = ctx.settings
    token = s.zenodo_token.get_secret_value() if s.zenodo_token is not None else ""
    if not s.zenodo_url or not token:
        return None
    return ZenodoClient(s.zenodo_url, token, policy=RetryPolicy(give_up_after=s.zenodo_give_up_seconds))


def run_backup(ctx: Context, client: ZenodoClient, say: Say, concept_id: str | None = None,
               version: str | None = None) -> BackupReport:
    """Back up every pending version (of one concept, up to one version); never raises for
    a version's failure: it is logged on the version and reported."""
    report = BackupReport()
    ids = [concept_id] if concept_id is not None else sorted(ctx.concepts.list_ids())
    for cid in ids:
        record = ctx.concepts.get(cid) if concept_id is not None else ctx.concepts.find(cid)
        if record is None:
            continue
        todo = pending_versions(record, ctx.curation_of(cid), version if concept_id is not None else None)
        blocker: str | None = None
        for v in todo:
            if blocker is not None:
                report.outcomes.append(VersionOutcome(cid, v, "waiting", error=f"version {blocker} has to be backed up first"))
                continue
            try:
                doi, concept_doi = VersionBackup(ctx, client, cid, v, say).run()
            except BackofficeError as e:
                message = str(e)
                logger.error("backup of %s %s failed: %s", cid, v, message)
                try:
                    ctx.record_step(cid, "backup", f"backup to Zenodo failed: {message}", subject=v,
                                    details={"error": message, "zenodo": client.base_url})
                except BackofficeError as log_error:
                    logger.warning("could not log the failure on %s %s: %s", cid, v, log_error)
                report.outcomes.append(VersionOutcome(cid, v, "failed", error=message))
                blocker = v
                continue
            say(f"{cid} {v}: backed up, DOI {doi} (concept DOI {concept_doi})")
            report.outcomes.append(VersionOutcome(cid, v, "backed up", doi=doi, concept_doi=concept_doi))
    return report
