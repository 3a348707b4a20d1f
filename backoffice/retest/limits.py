"""GitHub's limits a retest plan must fit (the command line reads them at start-up)."""

from __future__ import annotations

MAX_MATRIX_JOBS = 256
"""GitHub's limit of jobs one matrix may generate."""

MAX_OUTPUT_BYTES = 900_000
"""Bytes of the plan's step output (`chunks`) at most: GitHub allows 1 MB of outputs per job,
which a plan reaches near 10,000 jobs, long before 256 x 256."""
