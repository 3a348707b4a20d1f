"""Names of the reports the backoffice stores itself (partners use their own ids)."""

from __future__ import annotations


def core_report(core_version: str, weight_format: str) -> str:
    """The dynamic test of one weight format by one bioimageio.core version."""
    return f"bioimageio.core_{core_version}_{weight_format}"


def spec_report(spec_version: str) -> str:
    """The static validation by one bioimageio.spec version."""
    return f"bioimageio.spec_{spec_version}"
