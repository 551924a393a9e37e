"""Bars to simulation steps: a step of ``k`` bars sums them, a step of ``1 / m`` bar splits one.

The same rule as `stress.paths.bootstrap` (whose module docstring explains it): ``k`` consecutive
bars are summed; a bar's log return ``r`` is split into ``m`` pieces ``r * (1 / m + B_j)`` with
``B_j`` the increments of one standard Brownian bridge on the bar, shared by all assets, so the
pieces end the bar where the bar ends and have variance ``E[r**2] / m`` and cross-covariance
``E[r_a r_b] / m`` each: per-bar vol and correlation do not depend on the step length.
"""

from __future__ import annotations

import numpy as np


def bars_needed(n_steps: int, bars_per_step: int, steps_per_bar: int) -> int:
    """Bars to draw for ``n_steps`` steps (the last bar's surplus pieces are dropped)."""
    if steps_per_bar == 1:
        return n_steps * bars_per_step
    return -(-n_steps // steps_per_bar)


def bars_to_steps(
    r: np.ndarray,
    n_steps: int,
    bars_per_step: int,
    steps_per_bar: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-step log returns from per-bar log returns.

    Parameters
    ----------
    r : ndarray, shape (n_paths, bars_needed(...), n_assets)
        Per-bar log returns (left untouched, or returned as is when a step is a bar).
    n_steps, bars_per_step, steps_per_bar : int
        One of the last two is 1.
    rng : numpy.random.Generator
        Used only when ``steps_per_bar > 1``: one normal per (path, bar, piece of the bar), drawn
        in that order, for the bridges.

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), float64
    """
    k, m = bars_per_step, steps_per_bar
    n_paths, n_bars = r.shape[:2]
    if n_bars != bars_needed(n_steps, k, m):
        raise ValueError(f"{n_bars} bars do not make {n_steps} steps of {k} bars / {m} pieces")
    if k > 1:
        return r.reshape(n_paths, n_steps, k, -1).sum(axis=2)
    if m == 1:
        return r
    z = rng.standard_normal((n_paths, n_bars, m))
    z *= 1.0 / np.sqrt(m)
    shape = z - z.mean(axis=2, keepdims=True) + 1.0 / m  # 1/m + bridge increments: sums to 1
    inc = r[:, :, None, :] * shape[..., None]
    return inc.reshape(n_paths, n_bars * m, -1)[:, :n_steps]
