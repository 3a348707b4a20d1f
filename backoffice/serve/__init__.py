"""Serve the store over HTTP on 127.0.0.1 so index URLs resolve locally."""
