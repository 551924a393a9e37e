"""Merton jump diffusion: correlated GBM plus compound-Poisson jumps in log price.

Jump log-sizes are N(``jump_mean``, ``jump_std``); ``jump_intensity`` jumps per year.

- ``jump_common=True``: one market-wide Poisson clock, so every asset jumps at the same steps the
  same number of times. The jump sizes of the assets are normal with the *same correlation matrix
  as the diffusion* (a crash hits correlated assets by correlated amounts; with correlation 1 all
  assets jump by exactly the same log amount).
- ``jump_common=False``: an independent clock and independent jump sizes for every asset.

The sum of ``N`` jumps within a step is drawn exactly as ``N mean + sqrt(N) std Z``. The drift is
compensated by ``intensity (exp(mean + std**2 / 2) - 1) dt`` per step, so that
``E[S_T] = S_0 exp(drift T)`` still holds.

`draw` makes the same draws and increments as `log_increments` and also reports the jumps it
drew (`JumpDraws`), which importance sampling needs for its weights
(`stress.paths.importance_jumps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stress.paths.correlation import correlation_factor
from stress.paths.gbm import diffusion_increments
from stress.paths.spec import ModelSpec, TimeGrid


@dataclass(frozen=True)
class JumpDraws:
    """The jumps a draw made, one entry per step with a jump (per clock).

    Light: at most a few jumps per path. Only importance sampling reads them
    (`stress.paths.importance_jumps`); a plain run never builds prices from them.

    Attributes
    ----------
    path : ndarray of int64, shape (n_events,)
        Path index within the draw.
    step : ndarray of int64, shape (n_events,)
        Increment index ``t`` (the jump is in the prices from step ``t + 1`` on).
    count : ndarray of float64, shape (n_events,)
        Jumps of the clock within that step (>= 1).
    size : ndarray of float64, shape (n_events, n_assets)
        The log-size added to each asset's increment (zero for the assets of other clocks),
        the very numbers added to the increments.
    """

    path: np.ndarray
    step: np.ndarray
    count: np.ndarray
    size: np.ndarray


def no_jumps(n_assets: int) -> JumpDraws:
    return JumpDraws(
        path=np.zeros(0, dtype=np.int64),
        step=np.zeros(0, dtype=np.int64),
        count=np.zeros(0),
        size=np.zeros((0, n_assets)),
    )


def kappa(spec: ModelSpec) -> float:
    """``E[exp(J)] - 1`` of a jump's log-size ``J ~ N(jump_mean, jump_std)``: the drift's
    compensator is ``jump_intensity * kappa``."""
    mean, std = float(spec.jump_mean), float(spec.jump_std)
    return float(np.expm1(mean + 0.5 * std * std))


def log_increments(
    spec: ModelSpec, grid: TimeGrid, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Log-price increments of the Merton jump diffusion (see the module docstring).

    Parameters
    ----------
    spec : ModelSpec
        Uses ``vol``, ``drift``, ``corr`` and the ``jump_*`` fields.
    grid : TimeGrid
    n_paths : int
    rng : numpy.random.Generator
        The only source of randomness. Draw order: diffusion normals, jump counts, then one
        normal per (step with a jump[, asset]) for the jump sizes.

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), float64
    """
    return draw(spec, grid, n_paths, rng)[0]


def draw(
    spec: ModelSpec, grid: TimeGrid, n_paths: int, rng: np.random.Generator
) -> tuple[np.ndarray, JumpDraws]:
    """`log_increments` and the jumps within them: the same draws, the same increments.

    Returns
    -------
    inc : ndarray, shape (n_paths, n_steps, n_assets), float64
    jumps : JumpDraws
    """
    lam = float(spec.jump_intensity)
    mean = float(spec.jump_mean)
    std = float(spec.jump_std)
    factor = correlation_factor(spec.corr)
    inc = diffusion_increments(spec, grid, n_paths, rng, factor, compensator=lam * kappa(spec))
    n_assets = spec.n_assets
    if lam <= 0.0:
        return inc, no_jumps(n_assets)

    p = lam * grid.dt
    # Jumps are rare at fine grids, so jump sizes are drawn only where a jump happened.
    if spec.jump_common:
        counts = rng.poisson(p, size=(n_paths, grid.n_steps))
        hit = np.nonzero(counts)
        n_jumps = counts[hit].astype(np.float64)[:, None]
        z = rng.standard_normal((n_jumps.shape[0], n_assets))
        if n_assets > 1:
            z = z @ factor.T
        size = n_jumps * mean + np.sqrt(n_jumps) * std * z
        dense = size
    else:
        counts = rng.poisson(p, size=(n_paths, grid.n_steps, n_assets))
        hit = np.nonzero(counts)
        n_jumps = counts[hit].astype(np.float64)
        z = rng.standard_normal(n_jumps.shape[0])
        size = n_jumps * mean + np.sqrt(n_jumps) * std * z
        dense = np.zeros((size.shape[0], n_assets))
        dense[np.arange(size.shape[0]), hit[2]] = size
    inc[hit] += size
    jumps = JumpDraws(path=hit[0], step=hit[1], count=n_jumps.reshape(-1), size=dense)
    return inc, jumps
