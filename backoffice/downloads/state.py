"""Where the counting state lives and how it is read and written.

The state is private: it is never kept in the collection's storage, whose keys are public
(served under the bucket URL and by `backoffice serve`). It lives at
`BACKOFFICE_DOWNLOADS_STATE` (a private S3 prefix or a folder), or, with the local backend
and nothing set, in the local store's internal folder, which nothing serves or lists.
A state an earlier version left in the public store is moved there and then removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from ..context import Context
from ..errors import ConfigError, ConflictError, StorageError
from ..records import keys
from ..settings import Settings
from ..storage.base import ObjectNotFound, PreconditionFailed, Storage
from ..storage.local import INTERNAL, LocalStorage
from .sources import check_private, s3_storage
from .tally import FORMATS_READ, Tally

LOCAL_FOLDER = "downloads"
"""The default place with the local backend: `<local root>/.backoffice-internal/downloads/`."""


def state_place(settings: Settings) -> tuple[Storage, str]:
    """The private storage that holds the state, and how to name it in messages."""
    where = settings.downloads_state
    if not where:
        if settings.storage != "local":
            raise ConfigError("BACKOFFICE_DOWNLOADS_STATE must name a private place for count-downloads' state "
                              "(s3://<private bucket>/<prefix> or a folder; not the collection's public bucket)")
        folder = settings.local_root / INTERNAL / LOCAL_FOLDER
        return LocalStorage(folder, folder.absolute().as_uri()), str(folder / keys.DOWNLOADS_STATE_NAME)
    check_private(settings, where, "count-downloads' state")
    if where.startswith("s3://"):
        bucket, _, prefix = where[len("s3://"):].partition("/")
        if not bucket:
            raise ConfigError(f"no bucket in BACKOFFICE_DOWNLOADS_STATE {where!r} (expected s3://<bucket>/<prefix>)")
        return s3_storage(settings, bucket, prefix), f"s3://{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}{keys.DOWNLOADS_STATE_NAME}"
    folder = Path(where)
    return LocalStorage(folder, folder.absolute().as_uri()), str(folder / keys.DOWNLOADS_STATE_NAME)


def parse_state(data: bytes, shown: str) -> Tally:
    try:
        raw: Any = json.loads(data)
        if not isinstance(raw, dict) or cast(dict[str, Any], raw).get("format") not in FORMATS_READ:
            raise ValueError(f"not a format {' or '.join(map(str, FORMATS_READ))} state")
        return Tally.load(cast(dict[str, Any], raw))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise StorageError(f"{shown} is unreadable ({e}); nothing was counted — restore it from a backup "
                           "or a bucket version before counting again") from None


class StateStore:
    """The state, written whole and only over the version it was read from."""

    def __init__(self, ctx: Context) -> None:
        self.public = ctx.storage
        self.storage, self.shown = state_place(ctx.settings)
        self.etag: str | None = None
        self.moved = False
        """The state was read from the public store (an earlier version's): the first commit moves it."""

    def load(self) -> Tally:
        try:
            data, self.etag = self.storage.get(keys.DOWNLOADS_STATE_NAME)
        except ObjectNotFound:
            return self._load_old()
        tally = parse_state(data, self.shown)
        self._remove_old()  # a move that stopped after its commit
        return tally

    def _load_old(self) -> Tally:
        try:
            data = self.public.get_bytes(keys.OLD_PUBLIC_DOWNLOADS_STATE)
        except ObjectNotFound:
            return Tally()
        self.moved = True
        return parse_state(data, keys.OLD_PUBLIC_DOWNLOADS_STATE)

    def _remove_old(self) -> None:
        if self.public.exists(keys.OLD_PUBLIC_DOWNLOADS_STATE):
            self.public.delete(keys.OLD_PUBLIC_DOWNLOADS_STATE)

    def commit(self, tally: Tally) -> None:
        data = json.dumps(tally.dump(), separators=(",", ":")).encode()
        key = keys.DOWNLOADS_STATE_NAME
        try:
            if self.etag is None:
                self.etag = self.storage.put_bytes(key, data, if_none_match=True, content_type="application/json")
            else:
                self.etag = self.storage.put_bytes(key, data, if_match=self.etag, content_type="application/json")
        except PreconditionFailed:
            raise ConflictError("another count-downloads run committed meanwhile; run it again (nothing was counted twice)") from None
        if self.moved:
            self._remove_old()
            self.moved = False
