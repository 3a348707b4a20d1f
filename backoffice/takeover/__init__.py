"""Checking a takeover: what we would publish against what the running collection publishes."""
