"""The compiled passes of path generation give numpy's bits, on any number of threads."""

from __future__ import annotations

import numpy as np
import pytest

from stress import threads
from stress.paths import fused, gbm, generate
from stress.paths.generate import BLOCK_PATHS, block_rng, chunk_prices
from stress.paths.spec import ModelSpec, TimeGrid


def _spec(n_assets: int) -> ModelSpec:
    corr = np.full((n_assets, n_assets), 0.6) + 0.4 * np.eye(n_assets)
    return ModelSpec(
        kind="gbm",
        s0=np.linspace(100.0, 60_000.0, n_assets),
        vol=np.linspace(0.5, 1.2, n_assets),
        drift=np.linspace(-0.2, 0.3, n_assets),
        corr=corr,
    )


def _numpy_block(spec, grid, seed, block, m):
    """A block's prices the way numpy computed them before the compiled passes."""
    inc = gbm.log_increments(spec, grid, BLOCK_PATHS, block_rng(seed, block))[:m]
    out = np.empty((m, grid.n_steps + 1, spec.n_assets))
    out[:, 0, :] = spec.s0
    later = out[:, 1:, :]
    np.cumsum(inc, axis=1, out=later)
    np.exp(later, out=later)
    later *= spec.s0
    return out


def test_cumulate_and_scale_are_numpys_cumsum_and_multiply():
    rng = np.random.default_rng(0)
    inc = rng.standard_normal((7, 300, 3)) * 0.01
    out = np.empty((7, 301, 3))
    fused.cumulate_nb(inc, out)
    np.testing.assert_array_equal(out[:, 1:], np.cumsum(inc, axis=1))
    s0 = np.array([60_000.0, 3_000.0, 0.7])
    expected = out[:, 1:] * s0
    fused.scale_nb(out, s0)
    np.testing.assert_array_equal(out[:, 1:], expected)


@pytest.mark.parametrize("n_assets", [1, 2, 4])
@pytest.mark.parametrize("m", [BLOCK_PATHS, 45, fused.PIECE_PATHS, 1])
def test_gbm_pieces_give_the_whole_blocks_prices(n_assets, m):
    spec, grid = _spec(n_assets), TimeGrid.from_days(2.0, 96)
    out = np.empty((m, grid.n_steps + 1, n_assets))
    generate._fill_block(out, spec, grid, seed=9, block=3)
    np.testing.assert_array_equal(out, _numpy_block(spec, grid, 9, 3, m))


def test_blocks_filled_on_threads_equal_one_thread(monkeypatch):
    spec, grid = _spec(2), TimeGrid.from_days(1.0, 288)
    threaded = chunk_prices(spec, grid, seed=4, first=0, m=5 * BLOCK_PATHS - 17)
    assert threads.thread_count() >= 1
    monkeypatch.setattr(threads, "thread_count", lambda: 1)
    serial = chunk_prices(spec, grid, seed=4, first=0, m=5 * BLOCK_PATHS - 17)
    np.testing.assert_array_equal(threaded, serial)
    for k in range(5):
        m = min(BLOCK_PATHS, serial.shape[0] - k * BLOCK_PATHS)
        rows = serial[k * BLOCK_PATHS : k * BLOCK_PATHS + m]
        np.testing.assert_array_equal(rows, _numpy_block(spec, grid, 4, k, m))
