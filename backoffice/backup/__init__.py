"""Back up published versions to Zenodo (concept and version DOIs), exactly once and resumable."""
