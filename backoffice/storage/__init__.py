"""Storage: one interface, two backends (a local folder, S3)."""

from .base import ObjectInfo, ObjectNotFound, PreconditionFailed, Storage, join_key
from .factory import make_storage

__all__ = ["ObjectInfo", "ObjectNotFound", "PreconditionFailed", "Storage", "join_key", "make_storage"]
