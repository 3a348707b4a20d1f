"""Names of the test results the backoffice records itself (partners use their own ids).

A result is one part of our `bioimageio.core_<version>.json` report (see `core_report.py`):
the names below key the results on the concept document (and the retest plan).
"""

from __future__ import annotations

from importlib.metadata import version as dist_version


def core_report(core_version: str, weight_format: str) -> str:
    """The result of one weight format's dynamic test by one bioimageio.core version."""
    return f"bioimageio.core_{core_version}_{weight_format}"


def spec_report(spec_version: str) -> str:
    """The result of the static validation by one bioimageio.spec version."""
    return f"bioimageio.spec_{spec_version}"


def current_core_version() -> str:
    """The bioimageio.core release the backoffice tests with (its report's tool version)."""
    return dist_version("bioimageio.core")
