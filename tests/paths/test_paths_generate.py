"""Chunked generation: reproducibility, chunk-size invariance, block layout, validation."""

import numpy as np
import pytest

from stress.paths import (
    BLOCK_PATHS,
    ModelSpec,
    TimeGrid,
    block_prices,
    chunk_paths_for,
    iter_price_chunks,
    simulate_prices,
)
from stress.paths.generate import MODELS

GRID = TimeGrid.from_days(2, 24)
N_PATHS = 1000  # not a multiple of BLOCK_PATHS: the last block is short


def make_spec(kind):
    return ModelSpec(
        kind=kind,
        s0=np.array([60000.0, 3000.0, 1.5]),
        vol=np.array([0.65, 0.85, 1.1]),
        drift=np.array([0.0, 0.1, -0.2]),
        corr=np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.6], [0.5, 0.6, 1.0]]),
        jump_intensity=50.0,
        jump_mean=-0.04,
        jump_std=0.06,
        jump_common=True,
        dof=4.0,
    )


# bootstrap needs a history (test_bootstrap.py), garch/fhs/ewma a fit (test_garch_paths.py)
KINDS = sorted(set(MODELS) - {"bootstrap", "garch", "fhs", "ewma"})


def test_models_registry():
    kinds = {"gbm", "merton", "student_t", "bootstrap", "garch", "fhs", "ewma"}
    assert set(MODELS) == kinds  # replay draws nothing


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_is_bit_identical_and_seed_matters(kind):
    spec = make_spec(kind)
    a = simulate_prices(spec, GRID, seed=5, n_paths=N_PATHS)
    b = simulate_prices(spec, GRID, seed=5, n_paths=N_PATHS)
    c = simulate_prices(spec, GRID, seed=6, n_paths=N_PATHS)
    assert a.shape == (N_PATHS, GRID.n_steps + 1, 3)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.any(a[:, 1:] == c[:, 1:])


@pytest.mark.parametrize("kind", KINDS)
def test_chunk_size_does_not_change_results(kind):
    spec = make_spec(kind)
    ref = simulate_prices(spec, GRID, seed=3, n_paths=N_PATHS, chunk_paths=BLOCK_PATHS)
    for chunk_paths in (2 * BLOCK_PATHS, 3 * BLOCK_PATHS, 4 * BLOCK_PATHS, None):
        other = simulate_prices(spec, GRID, seed=3, n_paths=N_PATHS, chunk_paths=chunk_paths)
        np.testing.assert_array_equal(ref, other)


@pytest.mark.parametrize("kind", KINDS)
def test_paths_do_not_depend_on_run_length(kind):
    spec = make_spec(kind)
    long = simulate_prices(spec, GRID, seed=4, n_paths=N_PATHS)
    short = simulate_prices(spec, GRID, seed=4, n_paths=300)
    np.testing.assert_array_equal(long[:300], short)


def test_iter_price_chunks_covers_all_paths_in_order():
    spec = make_spec("merton")
    ref = simulate_prices(spec, GRID, seed=8, n_paths=N_PATHS)
    chunks = list(iter_price_chunks(spec, GRID, seed=8, n_paths=N_PATHS, chunk_paths=512))
    assert [first for first, _ in chunks] == [0, 512]
    assert [p.shape for _, p in chunks] == [(512, GRID.n_steps + 1, 3), (488, GRID.n_steps + 1, 3)]
    np.testing.assert_array_equal(np.concatenate([p for _, p in chunks]), ref)


def test_iter_price_chunks_default_chunk_size():
    spec = make_spec("gbm")
    chunks = list(iter_price_chunks(spec, GRID, seed=8, n_paths=N_PATHS))
    expected = min(chunk_paths_for(GRID, 3), N_PATHS)
    assert chunks[0][0] == 0
    assert chunks[0][1].shape[0] == expected
    assert sum(p.shape[0] for _, p in chunks) == N_PATHS


@pytest.mark.parametrize("kind", KINDS)
def test_step_zero_is_s0_exactly(kind):
    spec = make_spec(kind)
    prices = simulate_prices(spec, GRID, seed=9, n_paths=300)
    np.testing.assert_array_equal(prices[:, 0, :], np.broadcast_to(spec.s0, (300, 3)))
    assert np.all(prices > 0)


def test_block_prices_are_the_blocks_of_the_run():
    spec = make_spec("student_t")
    ref = simulate_prices(spec, GRID, seed=10, n_paths=N_PATHS)
    n_blocks = -(-N_PATHS // BLOCK_PATHS)
    for k in range(n_blocks):
        block = block_prices(spec, GRID, seed=10, block=k, n_paths_total=N_PATHS)
        np.testing.assert_array_equal(block, ref[k * BLOCK_PATHS : (k + 1) * BLOCK_PATHS])
    assert block.shape[0] == N_PATHS - (n_blocks - 1) * BLOCK_PATHS
    for bad in (-1, n_blocks):
        with pytest.raises(ValueError, match="block"):
            block_prices(spec, GRID, seed=10, block=bad, n_paths_total=N_PATHS)


@pytest.mark.parametrize("kind", KINDS)
def test_block_stream_is_seed_sequence_spawn(kind):
    spec = make_spec(kind)
    seed, k = 21, 2
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(k + 1)[k])
    inc = MODELS[kind](spec, GRID, BLOCK_PATHS, rng)
    expected = spec.s0 * np.exp(np.cumsum(inc, axis=1))
    block = block_prices(spec, GRID, seed=seed, block=k, n_paths_total=5 * BLOCK_PATHS)
    np.testing.assert_array_equal(block[:, 1:], expected)


@pytest.mark.parametrize("chunk_paths", [0, -BLOCK_PATHS, 100, BLOCK_PATHS + 1])
def test_bad_chunk_paths_raise_immediately(chunk_paths):
    spec = make_spec("gbm")
    with pytest.raises(ValueError, match="chunk_paths"):
        iter_price_chunks(spec, GRID, seed=1, n_paths=10, chunk_paths=chunk_paths)
    with pytest.raises(ValueError, match="chunk_paths"):
        simulate_prices(spec, GRID, seed=1, n_paths=10, chunk_paths=chunk_paths)


def test_unknown_model_kind_raises():
    spec = ModelSpec(
        kind="heston", s0=np.ones(1), vol=np.ones(1), drift=np.zeros(1), corr=np.eye(1)
    )
    with pytest.raises(ValueError, match="heston"):
        simulate_prices(spec, GRID, seed=1, n_paths=10)


def test_single_asset_and_tiny_runs():
    spec = ModelSpec(
        kind="gbm", s0=np.array([5.0]), vol=np.array([0.5]), drift=np.zeros(1), corr=np.eye(1)
    )
    prices = simulate_prices(spec, GRID, seed=2, n_paths=1)
    assert prices.shape == (1, GRID.n_steps + 1, 1)
    assert simulate_prices(spec, GRID, seed=2, n_paths=0).shape == (0, GRID.n_steps + 1, 1)


@pytest.mark.parametrize("n_assets", [1, 2, 5])
@pytest.mark.parametrize("budget", [1, 2**20, 64 * 2**20, 2**31])
def test_chunk_paths_for_fits_budget(n_assets, budget):
    grid = TimeGrid.from_days(7, 288)
    chunk = chunk_paths_for(grid, n_assets, budget_bytes=budget)
    assert chunk >= BLOCK_PATHS
    assert chunk % BLOCK_PATHS == 0
    chunk_bytes = chunk * (grid.n_steps + 1) * n_assets * 8
    block_bytes = BLOCK_PATHS * (grid.n_steps + 1) * n_assets * 8
    if chunk > BLOCK_PATHS:
        assert chunk_bytes <= budget
    # As large as allowed: one more block would not fit.
    assert chunk_bytes + block_bytes > budget


def test_chunk_paths_for_default_budget():
    grid = TimeGrid.from_days(7, 288)
    chunk = chunk_paths_for(grid, 2)
    assert chunk * (grid.n_steps + 1) * 2 * 8 <= 64 * 2**20
    assert chunk == chunk_paths_for(grid, 2, budget_bytes=64 * 2**20)
