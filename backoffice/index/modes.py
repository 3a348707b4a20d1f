"""Which index files a run writes (the command line reads this at start-up)."""

from __future__ import annotations

from typing import Literal

Mode = Literal["all", "published", "draft"]
"""`published`: collection.json, id_map.json (and what goes with them); `draft`: collection_draft.json, id_map_draft.json; `all`: both."""
