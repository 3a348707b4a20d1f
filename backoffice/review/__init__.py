"""Review: request changes, accept and publish."""
