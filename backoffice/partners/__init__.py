"""Partner compatibility: ingest reports, dispatch checks, run script partners, overview."""
