"""`python -m project.serve`: the garbage-collector tuning and the stall log."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterator

import pytest

from project import serve
from project.config import ConfigurationError


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    callbacks = list(gc.callbacks)
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    gc.callbacks[:] = callbacks


def test_tune_gc_freezes_what_is_loaded_and_raises_the_young_threshold(restore_gc: None) -> None:
    serve.tune_gc()
    assert gc.get_threshold() == (
        serve.GC_GEN0_THRESHOLD,
        serve.GC_GEN1_THRESHOLD,
        serve.GC_GEN2_THRESHOLD,
    )
    assert gc.get_freeze_count() > 0
    # Cyclic garbage made afterwards is still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


async def test_a_blocked_event_loop_and_a_long_collection_are_logged(
    restore_gc: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="project.serve")
    serve.watch_stalls(20)
    await asyncio.sleep(0.02)
    time.sleep(0.1)  # what a long synchronous step does to every connection of the process
    await asyncio.sleep(0.05)
    assert any("stall: event loop" in r.getMessage() for r in caplog.records)
    before = len(caplog.records)
    serve.watch_stalls(0.0001)  # every collection is "long" at this threshold
    gc.collect()
    assert any("stall: gc generation 2" in r.getMessage() for r in caplog.records[before:])
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()


def test_a_stall_threshold_that_is_not_a_number_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, restore_gc: None
) -> None:
    monkeypatch.setenv("HAVEN_STALL_LOG_MS", "fast")
    with pytest.raises(ConfigurationError, match="HAVEN_STALL_LOG_MS must be a number"):
        serve._on_start()
