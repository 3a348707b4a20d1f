"""The cyclic garbage collector is paused for the index generation and on again after it,
also when the generation fails."""

from __future__ import annotations

import gc

import pytest

from backoffice.context import Context
from backoffice.index import generate
from backoffice.util.gc_pause import cyclic_gc_paused


def test_paused_inside_and_restored_after(local_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = generate._generate  # pyright: ignore[reportPrivateUsage]

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(generate, "_generate", spy)
    assert gc.isenabled()
    generate.generate_index(local_ctx)
    assert seen == [False] and gc.isenabled()

    def fails(*_: object, **__: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(generate, "_generate", fails)
    with pytest.raises(RuntimeError):
        generate.generate_index(local_ctx)
    assert gc.isenabled()


def test_a_paused_caller_stays_paused() -> None:
    gc.disable()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
