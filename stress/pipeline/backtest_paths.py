"""A forecaster's P(liquidation) of every position on every test day, by simulating the day.

Each day: ``n_paths`` paths of the day's bars from the day's start variance
(`backtest_models.Forecaster.day_spec`), every bar split into ``steps_per_bar`` bridged steps
(`stress.paths.bar_steps`: 12 steps of 5 minutes in an hourly bar by default), and per path the
lowest and highest log move from the day's entry over those steps (the entry included). A long is
liquidated on a path whose lowest price reaches its liquidation price, a short on one whose
highest does: one set of paths serves every position. The sub-hour steps stand in for the bar's
wick, which the realised side reads from the file's lows and highs; a path watched every 5
minutes still misses the extremes between its steps, so it slightly understates the wick.

Random numbers: day ``d`` (days since 1970-01-01) draws from ``block_rng(seed, d)``, whatever the
model and the window, so a day's forecast is reproducible on its own and the models share their
normal draws (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stress.paths.bar_steps import bars_to_steps
from stress.paths.garch import GarchSpec, bar_returns
from stress.paths.generate import block_rng
from stress.pipeline.backtest_models import Forecaster


def day_extremes(
    spec: GarchSpec, n_paths: int, n_bars: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest log move from the start of each path over a day of ``n_bars``
    bars watched every ``1 / spec.steps_per_bar`` bar; both include the start (0).

    Returns
    -------
    (low, high) : two ndarrays of shape (n_paths,)
    """
    m = spec.steps_per_bar
    r = bar_returns(spec, n_paths, n_bars, rng)
    steps = bars_to_steps(r, n_bars * m, 1, m, rng)[:, :, 0]
    path = np.cumsum(steps, axis=1)
    return np.minimum(path.min(axis=1), 0.0), np.maximum(path.max(axis=1), 0.0)


def liquidated_share(
    low: np.ndarray, high: np.ndarray, thresholds: np.ndarray, signs: np.ndarray
) -> np.ndarray:
    """Per position, the share of paths that reach its liquidation price.

    ``thresholds`` are ``log(liquidation price / entry)``, ``signs`` +1 (long: the low reaches
    it) or -1 (short: the high does).
    """
    out = np.empty(thresholds.shape[0])
    for j, (thr, sign) in enumerate(zip(thresholds, signs, strict=True)):
        hit = low <= thr if sign > 0 else high >= thr
        out[j] = np.count_nonzero(hit) / low.shape[0]
    return out


def model_probabilities(
    forecaster: Forecaster,
    thresholds: np.ndarray,
    signs: np.ndarray,
    day_keys: np.ndarray,
    n_paths: int,
    seed: int,
    n_bars: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """P(liquidation) of every (day, position), shape ``thresholds.shape`` (n_days, n_pos).

    ``day_keys`` are the days' numbers since 1970-01-01 (the random streams, module docstring);
    ``progress(1)`` is called after each day.
    """
    out = np.empty(thresholds.shape)
    for d in range(thresholds.shape[0]):
        rng = block_rng(seed, int(day_keys[d]))
        low, high = day_extremes(forecaster.day_spec(d), n_paths, n_bars, rng)
        out[d] = liquidated_share(low, high, thresholds[d], signs)
        if progress is not None:
            progress(1)
    return out
