"""Memory stays flat in the number of paths: prices live one chunk at a time."""

from __future__ import annotations

import tracemalloc

from support.factories import two_asset_config

import stress


def _peak_bytes(n_paths: int) -> int:
    cfg = two_asset_config()
    cfg["simulation"] = {"paths": n_paths, "horizon_days": 2.0, "steps_per_day": 288}
    stress.run(cfg, chunk_paths=256)  # compile and warm caches outside the measurement
    tracemalloc.start()
    try:
        stress.run(cfg, chunk_paths=256)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_paths():
    small, large = _peak_bytes(512), _peak_bytes(4096)
    steps, assets = 2 * 288 + 1, 2
    prices_of_the_extra_paths = (4096 - 512) * steps * assets * 8
    # what may grow: the small per-path results (a few numbers per path and book)
    per_path_results = (4096 - 512) * 3 * (8 + 8 + 4 + 8 + 2)
    assert large - small < per_path_results + 4 * 2**20, (small, large)
    assert large - small < prices_of_the_extra_paths / 10
    assert small > 256 * steps * assets * 8  # the measurement sees the chunk's price array


def test_progress_reports_every_chunk():
    calls = []
    stress.run(two_asset_config(), paths=1000, chunk_paths=256, progress=calls.append)
    assert calls == [256, 256, 256, 232]
