"""``serve`` freezes what start-up allocated, so full garbage collections skip it."""

from __future__ import annotations

import gc

from verwijsindex.http.app import create_app
from verwijsindex.settings import Settings


async def test_startup_objects_are_frozen_only_when_asked(settings: Settings) -> None:
    gc.unfreeze()
    try:
        plain = create_app(settings)
        async with plain.router.lifespan_context(plain):
            assert gc.get_freeze_count() == 0
        frozen = create_app(settings, freeze_gc=True)
        async with frozen.router.lifespan_context(frozen):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the rest of the test run collects these objects normally
