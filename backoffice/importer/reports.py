"""Every imported report goes through `ingest-reports`' own checks (`partners.ingest.check`)
against the version as the import makes it, and is stored where ingest stores it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..config.collection_config import Partner
from ..context import Context
from ..errors import ReportRejectedError
from ..partners.ingest import Accepted, Candidate, check
from ..records import keys
from ..records.concept import ConceptRecord
from ..records.conflation import conflate_new
from ..records.tool_report import OWN_TOOL, ReportProblem, ToolReport, split_report_name
from ..resource_types import RESOURCE_TYPES
from .sources import Reader


@dataclass
class ReportOutcome:
    accepted: list[Accepted] = field(default_factory=list[Accepted])
    refused: list[str] = field(default_factory=list[str])
    """One line each: `<version>/<file>: <field>: <why>`."""


def partner_for(partners: Sequence[Partner], tool: str, rtype: str) -> Partner | None:
    """The partner whose reports carry `tool` (case-insensitively). The running collection ran
    its own bioimageio.core checks on every type; its reports of them are taken for every type
    (our partner running that tool now checks only the types it is configured for)."""
    for p in partners:
        if p.tool_name.lower() == tool.lower():
            if p.tool_name == OWN_TOOL and rtype not in p.resource_types:
                return p.model_copy(update={"resource_types": list(RESOURCE_TYPES)})
            return p
    return None


def check_reports(ctx: Context, reader: Reader, record: ConceptRecord, version: str, version_dir: str,
                  names: Sequence[str]) -> ReportOutcome:
    """Check the reports `names` of `version` (in `version_dir` of the source) against `record`."""
    out = ReportOutcome()
    cache: dict[str, ConceptRecord | None] = {record.id: record}
    for name in names:
        rel = f"{version_dir}reports/{name}"

        def read(rel: str = rel) -> bytes:
            return reader.read(rel) or b""

        try:
            tool, _ = split_report_name(name)
        except ReportProblem as e:
            out.refused.append(f"{version}/{name}: {e.field}: {e.message}")
            continue
        partner = partner_for(ctx.config.partners, tool, record.type)
        if partner is None:
            out.refused.append(f"{version}/{name}: tool: no partner of this collection reports as '{tool}'")
            continue
        try:
            out.accepted.append(check(ctx, partner, Candidate(f"{reader.name}/{rel}", f"{record.id}/{version}/{name}", read), cache))
        except ReportRejectedError as e:
            out.refused.append(f"{version}/{name}: {str(e).split(': ', 1)[-1]}")
    return out


def store_reports(ctx: Context, record: ConceptRecord, version: str, accepted: Sequence[Accepted]) -> None:
    """Store the accepted reports byte for byte and conflate them onto the version of `record`."""
    etags: dict[str, str] = {}
    reports: dict[tuple[str, str], ToolReport] = {}
    for a in accepted:
        name = a.key.rsplit("/", 1)[-1]
        if name in etags:
            continue  # the same tool release twice (`careamics` and `CAREamics`): the first stands
        etags[name] = ctx.storage.put_bytes(a.key, a.data, content_type="application/json")
        reports[(a.tool, a.tool_version)] = a.report
    record.versions[version].compatibility = conflate_new(ctx.storage, keys.version_reports(record.id, version, record.versions[version].content), reports, etags)
