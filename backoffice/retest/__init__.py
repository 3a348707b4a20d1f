"""Retesting the published collection (e.g. after a bioimageio.core release): the plan
(`plan`), the GitHub limits it fits (`limits`), its job summary (`summary`)."""
