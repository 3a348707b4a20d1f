"""Python's cyclic garbage collector paused for a bulk step.

A full index generation builds hundreds of MB of small objects (an entry, its versions and
their briefs per concept) and keeps them to the end. The cyclic collector, triggered by
every 700 allocations, walks all of them again and again in its oldest generation: at
10,000 concepts that was about a sixth of the process's CPU, and every pass stalls the
threads reading concept documents. These objects hold no reference cycles (pydantic
models, dicts, lists), so reference counting frees whatever is dropped; the collector is
turned back on (and runs once) when the step ends.
"""

from __future__ import annotations

import gc
from collections.abc import Generator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Generator[None]:
    """Pause the cyclic collector inside the block (nested use is fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect()
