"""Plan the retest of the published collection: one test job per published version
and weight format (static checks only for datasets, notebooks and models without a
dynamically testable format), chunked into GitHub Actions matrices.

GitHub runs at most 256 jobs per matrix. The retest workflow has an outer matrix of
chunks, each calling the test matrix workflow with one chunk; both levels stay under
the limit, so one run plans at most 256 x 256 jobs; and the plan is handed from one job
to the next as a step output, which GitHub limits to 1 MB per job, so the plan holds
only as many chunks as fit into `MAX_OUTPUT_BYTES`. Jobs beyond either limit are
deferred: with `only_missing` the next run picks them up.

Everything here is pure: records in, plan out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..config.curation import CurationDecl
from ..gh_actions import matrix_of
from ..records.concept import ConceptRecord
from ..records.report_names import core_report, spec_report
from ..resource_types import dynamic_formats
from .limits import MAX_MATRIX_JOBS, MAX_OUTPUT_BYTES



@dataclass(frozen=True)
class PublishedVersion:
    """What the plan needs to know about one published version."""

    concept_id: str
    type: str
    version: str
    weight_formats: tuple[str, ...] = ()
    reports: frozenset[str] = frozenset()
    """Names of the reports the version has (e.g. `bioimageio.core_0.11.0_onnx`)."""
    blocked: bool = False


@dataclass(frozen=True)
class RetestJob:
    """One `backoffice test <concept_id> <version> [<weight_format>]`."""

    concept_id: str
    version: str
    weight_format: str = ""
    """Empty: static checks only (`backoffice test` without a weight format)."""

    def entry(self) -> dict[str, str]:
        """The job's entry in a matrix `include` list."""
        return {"concept_id": self.concept_id, "version": self.version, "weight_format": self.weight_format}


@dataclass(frozen=True)
class RetestPlan:
    chunks: tuple[tuple[RetestJob, ...], ...]
    """Matrices of at most `MAX_MATRIX_JOBS` jobs each."""
    deferred: tuple[RetestJob, ...] = ()
    """Jobs beyond the most one run can hold."""
    up_to_date: int = 0
    """Jobs left out because the current tools reported on them already (`only_missing`)."""
    blocked: int = 0
    """Published versions left out because they are blocked."""

    @property
    def jobs(self) -> tuple[RetestJob, ...]:
        return tuple(job for chunk in self.chunks for job in chunk)

    def matrices(self) -> list[dict[str, list[dict[str, str]]]]:
        """Each chunk as a matrix (`{"include": [...]}`)."""
        return [matrix_of(job.entry() for job in chunk) for chunk in self.chunks]

    def fan_out(self) -> dict[str, list[dict[str, object]]]:
        """The outer matrix: one entry per chunk, its matrix as a JSON string (`entries`)."""
        return {"include": [_outer_entry(i, chunk) for i, chunk in enumerate(self.chunks)]}

    def fan_out_json(self) -> str:
        """`fan_out()` as the compact JSON the step output carries."""
        return json.dumps(self.fan_out(), separators=(",", ":"))


def _outer_entry(i: int, chunk: Sequence[RetestJob]) -> dict[str, object]:
    inner = matrix_of(job.entry() for job in chunk)
    return {"chunk": i, "jobs": len(chunk), "entries": json.dumps(inner, separators=(",", ":"))}


def fit_output(chunks: Sequence[tuple[RetestJob, ...]], max_bytes: int) -> int:
    """How many of `chunks` (in order) fit into a fan-out of at most `max_bytes`."""
    size = len('{"include":[]}')
    for i, chunk in enumerate(chunks):
        size += len(json.dumps(_outer_entry(i, chunk), separators=(",", ":"))) + (1 if i else 0)
        if size > max_bytes:
            return i
    return len(chunks)


def jobs_of(v: PublishedVersion) -> list[RetestJob]:
    """The jobs testing `v`: one per dynamically testable weight format, else static checks."""
    formats = dynamic_formats(v.type, v.weight_formats)
    if formats:
        return [RetestJob(v.concept_id, v.version, wf) for wf in formats]
    return [RetestJob(v.concept_id, v.version)]


def split_even(jobs: Sequence[RetestJob], chunk_size: int) -> list[tuple[RetestJob, ...]]:
    """`jobs` in order, in the fewest chunks of at most `chunk_size`, sizes differing by at most one."""
    if not jobs:
        return []
    n = math.ceil(len(jobs) / chunk_size)
    base, extra = divmod(len(jobs), n)
    out: list[tuple[RetestJob, ...]] = []
    start = 0
    for i in range(n):
        size = base + (1 if i < extra else 0)
        out.append(tuple(jobs[start : start + size]))
        start += size
    return out


def plan_retest(
    versions: Iterable[PublishedVersion],
    *,
    core_version: str,
    spec_version: str,
    only_missing: bool = False,
    chunk_size: int = MAX_MATRIX_JOBS,
    max_chunks: int = MAX_MATRIX_JOBS,
    max_output_bytes: int = MAX_OUTPUT_BYTES,
) -> RetestPlan:
    """The test jobs for every unblocked published version, chunked into matrices.

    With `only_missing`, a job is planned only if the version has no report from the
    current bioimageio.core (for a weight format) or bioimageio.spec (static checks).
    """
    if not 1 <= chunk_size <= MAX_MATRIX_JOBS:
        raise ValueError(f"chunk size must be 1 to {MAX_MATRIX_JOBS}, not {chunk_size}")
    if not 1 <= max_chunks <= MAX_MATRIX_JOBS:
        raise ValueError(f"max chunks must be 1 to {MAX_MATRIX_JOBS}, not {max_chunks}")
    planned: list[RetestJob] = []
    up_to_date = blocked = 0
    for v in sorted(versions, key=lambda v: (v.concept_id, v.version)):
        if v.blocked:
            blocked += 1
            continue
        for job in jobs_of(v):
            wf = job.weight_format
            report = core_report(core_version, wf) if wf else spec_report(spec_version)
            if only_missing and report in v.reports:
                up_to_date += 1
                continue
            planned.append(job)
    capacity = chunk_size * max_chunks
    chunks = split_even(planned[:capacity], chunk_size)
    fitting = fit_output(chunks, max_output_bytes)
    kept = chunks[:fitting]
    n_kept = sum(len(c) for c in kept)
    return RetestPlan(tuple(kept), tuple(planned[n_kept:]), up_to_date, blocked)


def published_versions(
    records: Iterable[ConceptRecord], curation: Mapping[str, CurationDecl]
) -> list[PublishedVersion]:
    """The published versions of `records`, blocked ones marked by their declaration."""
    out: list[PublishedVersion] = []
    for record in records:
        decl = curation.get(record.id)
        for version, rec in record.versions.items():
            out.append(PublishedVersion(
                concept_id=record.id,
                type=record.type,
                version=version,
                weight_formats=tuple(rec.summary.weight_formats),
                reports=frozenset(rec.tests),
                blocked=decl is not None and decl.is_blocked(version),
            ))
    return out
