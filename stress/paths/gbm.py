"""Correlated geometric Brownian motion."""

from __future__ import annotations

import numpy as np

from stress.paths.correlation import correlated_normals, correlation_factor
from stress.paths.spec import ModelSpec, TimeGrid


def diffusion_increments(
    spec: ModelSpec,
    grid: TimeGrid,
    n_paths: int,
    rng: np.random.Generator,
    factor: np.ndarray,
    compensator: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Log-price increments of the GBM part, with an extra per-year drift correction.

    ``dlogS = (drift - vol**2 / 2 - compensator) dt + vol sqrt(dt) (L Z)``.

    Parameters
    ----------
    spec : ModelSpec
    grid : TimeGrid
    n_paths : int
    rng : numpy.random.Generator
        Draws exactly ``n_paths * n_steps * n_assets`` standard normals.
    factor : ndarray, shape (n_assets, n_assets)
        Correlation factor from :func:`~stress.paths.correlation.correlation_factor`.
    compensator : float or ndarray, shape (n_assets,)
        Per-year amount subtracted from the drift so that another component (jumps) leaves
        ``E[S_T] = S_0 exp(drift T)`` intact.

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), float64
    """
    scale, mu = step_coefficients(spec, grid, compensator)
    inc = correlated_normals(factor, (n_paths, grid.n_steps), rng)
    inc *= scale
    inc += mu
    return inc


def step_coefficients(
    spec: ModelSpec, grid: TimeGrid, compensator: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-asset ``vol sqrt(dt)`` and ``(drift - vol**2 / 2 - compensator) dt``: a step's
    increment is ``correlated normal * scale + mu`` (the one place they are computed)."""
    vol = np.asarray(spec.vol, dtype=np.float64)
    drift = np.asarray(spec.drift, dtype=np.float64)
    dt = grid.dt
    return vol * np.sqrt(dt), (drift - 0.5 * vol * vol - compensator) * dt


def log_increments(
    spec: ModelSpec, grid: TimeGrid, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Log-price increments of correlated GBM.

    ``dlogS = (drift - vol**2 / 2) dt + vol sqrt(dt) (L Z)`` with ``L L' = corr``, so
    ``E[S_T] = S_0 exp(drift T)`` and ``Var[log S_T] = vol**2 T``.

    Parameters
    ----------
    spec : ModelSpec
        ``kind`` is not checked; ``s0`` is unused.
    grid : TimeGrid
    n_paths : int
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), float64
    """
    return diffusion_increments(spec, grid, n_paths, rng, correlation_factor(spec.corr))
