"""Each asset's daily volatility under the path model: the sigma of the square-root impact law.

`stress.margin.slippage` prices a liquidation close at ``k * sigma_daily * sqrt(N / depth)``
away from the mark; sigma_daily is read from the model the paths come from, so a calmer or a
wilder model moves the impact with it:

* parametric models (gbm, merton, student_t): ``vol / sqrt(365)``, the annual vol on a
  365-day year; merton adds its jumps' variance, ``intensity * (mean**2 + std**2)`` a year, as
  a day of its returns has it;
* bootstrap: the standard deviation of the history's single-bar log returns (the bars the paths
  are drawn from), times ``sqrt(bars per day)``;
* replay: the same from the history's closes (the windows' own bars; an outage's move lands in
  the bar after it, as the windows replay it).
"""

from __future__ import annotations

import math

import numpy as np

from stress.paths.spec import ModelSpec, TimeGrid

DAYS_PER_YEAR = 365.0


def parametric_daily_vol(spec: ModelSpec) -> np.ndarray:
    """Daily vol of a parametric model's assets, shape (n_assets,)."""
    annual_var = np.asarray(spec.vol, dtype=np.float64) ** 2
    if spec.kind == "merton":
        annual_var = annual_var + spec.jump_intensity * (spec.jump_mean**2 + spec.jump_std**2)
    return np.sqrt(annual_var / DAYS_PER_YEAR)


def bar_days(spec: ModelSpec, grid: TimeGrid) -> float:
    """Length of one history bar in days: a step is ``bars_per_step`` bars, or a bar is
    ``steps_per_bar`` steps."""
    source = spec.source
    steps_per_bar = getattr(source, "steps_per_bar", 1)
    return grid.dt * DAYS_PER_YEAR * steps_per_bar / source.bars_per_step


def history_daily_vol(spec: ModelSpec, grid: TimeGrid) -> np.ndarray:
    """Daily vol of a bootstrap or replay model's assets, shape (n_assets,)."""
    source = spec.source
    if spec.kind == "bootstrap":
        returns = np.asarray(source.returns, dtype=np.float64)
    else:
        returns = np.diff(np.log(np.asarray(source.closes, dtype=np.float64)), axis=0)
    per_bar = returns.std(axis=0, ddof=1) if returns.shape[0] > 1 else np.zeros(returns.shape[1])
    return per_bar * math.sqrt(1.0 / bar_days(spec, grid))


def daily_vol(spec: ModelSpec, grid: TimeGrid) -> np.ndarray:
    """Each asset's daily volatility under the model (see the module docstring), (n_assets,)."""
    if spec.source is None:
        return parametric_daily_vol(spec)
    return history_daily_vol(spec, grid)
