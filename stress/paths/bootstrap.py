"""Stationary block bootstrap of joint historical returns.

A path is a sequence of historical bars (hours) drawn as in Politis and Romano's stationary
bootstrap: the first bar is uniform over the history; each following bar is, with probability
``1 / block_bars``, a fresh uniform draw, else the bar after the previous one (wrapping from the
last bar to the first). Blocks therefore have geometric lengths with mean ``block_bars``, every
bar is equally likely at every step, and within a block the history's volatility clusters and
short-range dependence survive. All assets take the same bar at once, so their joint
distribution (correlation, crashing together) is the history's. ``block_bars = 1`` is the i.i.d.
bootstrap.

Returns across an exchange outage were dropped when the history was read; a block that reaches
the dropped return simply continues with the bar after the outage.

Step length. A step of ``k`` bars is the sum of ``k`` consecutive drawn bars. A step of
``1 / m`` bar (``m`` steps per bar) splits the bar's log return ``r`` into ``m`` pieces
``r * (1 / m + B_j)``, where ``B_j`` are the increments of one standard Brownian bridge on the
bar (``sum_j B_j = 0``, ``Var B_j = 1/m - 1/m**2``), shared by all assets: the path still ends
the bar at the historical close, and the pieces are uncorrelated with variance ``E[r**2] / m``
and cross-covariance ``E[r_a r_b] / m``, the bar's own second moments spread evenly, so vol and
correlation do not depend on the step length. What happens inside a bar beyond that is a model,
not data.

Drift. With ``demean`` (the default) each asset's returns are shifted by
``-log(mean(exp(r)))``, so one drawn bar has ``E[exp(r)] = 1`` exactly and ``E[S_T] = S_0`` up to
the dependence inside blocks; then the asset's ``drift`` (a year's expected simple return) is
added per bar. Without it the history's own drift stays (plus ``drift``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stress.paths.bar_steps import bars_needed, bars_to_steps
from stress.paths.spec import ModelSpec, TimeGrid


@dataclass(frozen=True)
class BootstrapSpec:
    """What the bootstrap draws from.

    Attributes
    ----------
    returns : ndarray, shape (n_bars, n_assets)
        Single-bar log returns, already centred and drifted (see :func:`centred_returns`).
    block_bars : float
        Mean block length in bars, >= 1.
    bars_per_step, steps_per_bar : int
        A step is ``bars_per_step`` bars, or a bar is ``steps_per_bar`` steps; one of them is 1.
    """

    returns: np.ndarray
    block_bars: float
    bars_per_step: int = 1
    steps_per_bar: int = 1


def centred_returns(
    returns: np.ndarray, bar_years: float, drift: np.ndarray, demean: bool = True
) -> np.ndarray:
    """Returns with the history's drift replaced by ``drift`` (see the module docstring).

    Parameters
    ----------
    returns : ndarray, shape (n_bars, n_assets)
    bar_years : float
        Length of a bar in 365-day years.
    drift : ndarray, shape (n_assets,)
        Expected simple return per year to put in.
    demean : bool
        Remove the history's drift first.
    """
    out = np.array(returns, dtype=np.float64)
    if demean:
        # log-mean-exp, computed stably: the shift that makes E[exp(r)] = 1 per bar
        top = out.max(axis=0)
        out -= top + np.log(np.mean(np.exp(out - top), axis=0))
    out += np.asarray(drift, dtype=np.float64) * bar_years
    return out


def bar_indices(n_hist: int, block_bars: float, shape: tuple[int, int], rng) -> np.ndarray:
    """Drawn history bars, shape ``shape`` = (n_paths, n_bars): a stationary bootstrap.

    Draw order: one uniform per cell (a new block?), then one integer per cell (where it starts).
    """
    fresh = rng.random(shape) < 1.0 / block_bars
    fresh[:, 0] = True
    begin = rng.integers(0, n_hist, size=shape)
    t = np.arange(shape[1])
    last = np.maximum.accumulate(np.where(fresh, t, 0), axis=1)
    return (np.take_along_axis(begin, last, axis=1) + (t - last)) % n_hist


def log_increments(
    spec: ModelSpec, grid: TimeGrid, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Log-price increments of the bootstrap (see the module docstring).

    Parameters
    ----------
    spec : ModelSpec
        ``spec.source`` is a :class:`BootstrapSpec`.
    grid : TimeGrid
        Its step must match ``bars_per_step``/``steps_per_bar`` (checked by the config layer).
    n_paths : int
    rng : numpy.random.Generator
        The only source of randomness. Draw order: :func:`bar_indices`, then (steps shorter
        than a bar) one normal per (path, bar, step of the bar) for the bridges.

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), float64
    """
    b: BootstrapSpec = spec.source
    k, m = b.bars_per_step, b.steps_per_bar
    n_bars = bars_needed(grid.n_steps, k, m)
    r = b.returns[bar_indices(b.returns.shape[0], b.block_bars, (n_paths, n_bars), rng)]
    return bars_to_steps(r, grid.n_steps, k, m, rng)
