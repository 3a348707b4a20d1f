"""Retesting the published collection (e.g. after a bioimageio.core release)."""

from __future__ import annotations

from .plan import MAX_MATRIX_JOBS, PublishedVersion, RetestPlan, RetestJob, plan_retest, published_versions

__all__ = ["MAX_MATRIX_JOBS", "PublishedVersion", "RetestPlan", "RetestJob", "plan_retest", "published_versions"]
