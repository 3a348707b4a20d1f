"""Make the storage backend the settings choose."""

from __future__ import annotations

from ..settings import Settings
from .base import Storage


def make_storage(settings: Settings) -> Storage:
    """The configured backend: the local folder (default), S3, or read-only public URLs."""
    if settings.storage == "s3":
        from .s3 import S3Storage

        return S3Storage(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
            ),
            public_base_url=settings.public_base_url,
        )
    if settings.storage == "public":
        from .public import PublicStorage, s3_public_base

        base = settings.public_base_url or (
            s3_public_base(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url)
            if settings.s3_endpoint_url else f"http://127.0.0.1:{settings.serve_port}"
        )
        return PublicStorage(base, timeout=settings.download_timeout)
    from .local import LocalStorage

    base = settings.public_base_url or f"http://127.0.0.1:{settings.serve_port}"
    return LocalStorage(settings.local_root, base)
