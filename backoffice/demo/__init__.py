"""Tiny, offline-built bioimage.io example resources (models, datasets, notebooks) for demos and tests."""
