"""Chunked, reproducible price paths.

Paths are cut into blocks of ``BLOCK_PATHS``; block ``k`` (paths ``[k * BLOCK_PATHS, ...)``) draws
from its own generator seeded by ``SeedSequence(seed, spawn_key=(k,))``, which is exactly
``SeedSequence(seed).spawn(k + 1)[k]``, and always draws for a full block. A chunk is a run of whole
blocks, so the prices of a path depend only on ``(seed, path index)``: never on the chunk size,
chunk order, worker count or the number of paths in the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from stress.paths import bootstrap, fused, garch, gbm, merton, student_t
from stress.paths.correlation import correlation_factor
from stress.paths.spec import ModelSpec, TimeGrid
from stress.threads import run_slices

BLOCK_PATHS = 256
"""Paths per random-number block: the unit of reproducibility. Changing it changes all results."""

DEFAULT_CHUNK_BYTES = 64 * 2**20

LogIncrements = Callable[[ModelSpec, TimeGrid, int, np.random.Generator], np.ndarray]

MODELS: dict[str, LogIncrements] = {
    "gbm": gbm.log_increments,
    "merton": merton.log_increments,
    "student_t": student_t.log_increments,
    "bootstrap": bootstrap.log_increments,
    "garch": garch.log_increments,
    "fhs": garch.log_increments,
    "ewma": garch.log_increments,
}
"""Model kind -> ``log_increments(spec, grid, n_paths, rng) -> (n_paths, n_steps, n_assets)``."""


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator of path block ``block`` (same stream as ``SeedSequence(seed).spawn``)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))


def _model(spec: ModelSpec) -> LogIncrements | None:
    if spec.kind == "replay":
        return None  # no randomness: windows of the history (`stress.history.windows`)
    try:
        return MODELS[spec.kind]
    except KeyError:
        raise ValueError(
            f"unknown model kind {spec.kind!r}, expected one of {sorted(MODELS)}"
        ) from None


def _n_blocks(n_paths: int) -> int:
    return -(-n_paths // BLOCK_PATHS)


def _fill_block(out: np.ndarray, spec: ModelSpec, grid: TimeGrid, seed: int, block: int) -> None:
    """Write paths ``[0, m)`` of block ``block`` into ``out``, shape (m, n_steps + 1, n_assets).

    The block's draws are always made for all ``BLOCK_PATHS`` paths and the surplus dropped, so a
    path's prices do not depend on the run's total path count either: the first 1,000 paths of a
    20,000-path run are the paths of a 1,000-path run (the waste is under one block per run).
    """
    s0 = np.asarray(spec.s0, dtype=np.float64)
    model = _model(spec)
    if model is None:
        from stress.paths.replay import fill_windows

        fill_windows(out, spec.source, s0, block * BLOCK_PATHS)
        return
    rng = block_rng(seed, block)
    if spec.kind == "gbm":  # drawn piece by piece, in cache (`stress.paths.fused`)
        scale, mu = gbm.step_coefficients(spec, grid)
        fused.gbm_block(out, rng, correlation_factor(spec.corr), scale, mu, s0)
        return
    inc = model(spec, grid, BLOCK_PATHS, rng)[: out.shape[0]]
    fused.prices_from_increments(out, inc, s0)


def block_prices(
    spec: ModelSpec, grid: TimeGrid, seed: int, block: int, n_paths_total: int
) -> np.ndarray:
    """Prices of one path block.

    Parameters
    ----------
    spec : ModelSpec
    grid : TimeGrid
    seed : int
        Run seed, >= 0.
    block : int
        Block index, ``0 <= block < ceil(n_paths_total / BLOCK_PATHS)``.
    n_paths_total : int
        Paths in the whole run; only the last block is shorter than ``BLOCK_PATHS``.

    Returns
    -------
    ndarray, shape (m, n_steps + 1, n_assets), float64
        Paths ``[block * BLOCK_PATHS, block * BLOCK_PATHS + m)``; step 0 equals ``s0`` exactly.
    """
    if not 0 <= block < _n_blocks(n_paths_total):
        raise ValueError(
            f"block must be in [0, {_n_blocks(n_paths_total)}) for {n_paths_total} paths, "
            f"got {block}"
        )
    m = min(BLOCK_PATHS, n_paths_total - block * BLOCK_PATHS)
    out = np.empty((m, grid.n_steps + 1, spec.n_assets), dtype=np.float64)
    _fill_block(out, spec, grid, seed, block)
    return out


def chunk_paths_for(grid: TimeGrid, n_assets: int, budget_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Largest multiple of ``BLOCK_PATHS`` whose price array fits ``budget_bytes``.

    Parameters
    ----------
    grid : TimeGrid
    n_assets : int
    budget_bytes : int
        Memory allowed for one chunk's price array (float64).

    Returns
    -------
    int
        A positive multiple of ``BLOCK_PATHS``; at least ``BLOCK_PATHS`` even if that exceeds
        the budget. The generators need about one more block's worth of temporaries on top.
    """
    per_block = BLOCK_PATHS * (grid.n_steps + 1) * n_assets * 8
    return BLOCK_PATHS * max(1, int(budget_bytes) // per_block)


def _check_run(spec: ModelSpec, seed: int, n_paths: int, chunk_paths: int) -> None:
    _model(spec)
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if n_paths < 0:
        raise ValueError(f"n_paths must be >= 0, got {n_paths}")
    if chunk_paths <= 0 or chunk_paths % BLOCK_PATHS:
        raise ValueError(
            f"chunk_paths must be a positive multiple of {BLOCK_PATHS}, got {chunk_paths}"
        )


def _chunks(
    spec: ModelSpec,
    grid: TimeGrid,
    seed: int,
    n_paths: int,
    chunk_paths: int,
    out: np.ndarray | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, n_paths, chunk_paths):
        m = min(chunk_paths, n_paths - start)
        chunk = out[start : start + m] if out is not None else None
        yield start, chunk_prices(spec, grid, seed, start, m, chunk)


def chunk_prices(
    spec: ModelSpec,
    grid: TimeGrid,
    seed: int,
    first: int,
    m: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Prices of the run's paths ``[first, first + m)``, ``first`` a multiple of
    ``BLOCK_PATHS``: shape (m, n_steps + 1, n_assets), written into ``out`` when given. The
    same numbers whatever chunk they come in (module docstring)."""
    if first % BLOCK_PATHS:
        raise ValueError(f"first must be a multiple of {BLOCK_PATHS}, got {first}")
    if out is None:
        out = np.empty((m, grid.n_steps + 1, spec.n_assets))

    def fill(offset: int) -> None:
        block = (first + offset) // BLOCK_PATHS
        _fill_block(out[offset : offset + BLOCK_PATHS], spec, grid, seed, block)

    n_blocks = -(-m // BLOCK_PATHS)
    if spec.kind == "replay":
        for k in range(n_blocks):
            fill(k * BLOCK_PATHS)
    else:  # each block has its own generator and rows: the threads share nothing

        def blocks(k0: int, k1: int) -> None:
            for k in range(k0, k1):
                fill(k * BLOCK_PATHS)

        run_slices(blocks, n_blocks)
    return out


def iter_price_chunks(
    spec: ModelSpec,
    grid: TimeGrid,
    seed: int,
    n_paths: int,
    chunk_paths: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Generate the run's prices chunk by chunk, in path order.

    Parameters
    ----------
    spec : ModelSpec
    grid : TimeGrid
    seed : int
        Run seed, >= 0.
    n_paths : int
        Paths in the run.
    chunk_paths : int, optional
        Paths per chunk, a positive multiple of ``BLOCK_PATHS``; default
        :func:`chunk_paths_for`. Results do not depend on it.

    Yields
    ------
    first : int
        Index of the chunk's first path.
    prices : ndarray, shape (m, n_steps + 1, n_assets), float64
        A fresh array per chunk (``m = chunk_paths`` except for the last chunk).

    Raises
    ------
    ValueError
        Immediately (not at the first ``next``) for a bad ``chunk_paths``, seed or model kind.
    """
    if chunk_paths is None:
        chunk_paths = chunk_paths_for(grid, spec.n_assets)
    _check_run(spec, seed, n_paths, chunk_paths)
    return _chunks(spec, grid, seed, n_paths, chunk_paths)


def simulate_prices(
    spec: ModelSpec,
    grid: TimeGrid,
    seed: int,
    n_paths: int,
    chunk_paths: int | None = None,
) -> np.ndarray:
    """All prices of a run in one array (for the public API and tests; engines use chunks).

    Parameters
    ----------
    spec, grid, seed, n_paths, chunk_paths
        As in :func:`iter_price_chunks`.

    Returns
    -------
    ndarray, shape (n_paths, n_steps + 1, n_assets), float64
        Equal to the chunks of :func:`iter_price_chunks` concatenated (bit for bit).
    """
    if chunk_paths is None:
        chunk_paths = chunk_paths_for(grid, spec.n_assets)
    _check_run(spec, seed, n_paths, chunk_paths)
    out = np.empty((n_paths, grid.n_steps + 1, spec.n_assets), dtype=np.float64)
    # Chunks are views into `out`: no second full-size copy.
    for _ in _chunks(spec, grid, seed, n_paths, chunk_paths, out=out):
        pass
    return out
