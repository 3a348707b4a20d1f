"""Dynamic tests: one environment per weight format."""
