"""Which portfolios get detail figures, and the time axis and quantiles their fan charts use.

The run computes the detailed books' equity fans once (`stress.pipeline.simulate`) and the
report draws them (`stress.output.report`): both read the choice and the axis from here, so
they cannot disagree on which portfolios or which steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FAN_QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
"""The lines of a fan chart: the median, and the 25-75 % and 5-95 % bands."""
MAX_DETAIL = 3
"""Portfolios given detail figures at most (the riskiest, when a run has more)."""
MAX_TIME_POINTS = 300
"""Points per time series: smooth at any screen width, small enough to embed."""


@dataclass(frozen=True)
class TimeAxis:
    """The thinned time axis shared by every time-series figure.

    `steps` (n_points,) are simulation step indices, `x` (n_points,) the same in `unit`.
    """

    steps: np.ndarray
    x: np.ndarray
    unit: str  # "hours" | "days"


def time_axis(n_steps: int, step_hours: float, max_points: int = MAX_TIME_POINTS) -> TimeAxis:
    """Up to `max_points + 1` evenly spread steps, always including the first and the last."""
    n = min(n_steps + 1, max_points + 1)
    steps = np.unique(np.round(np.linspace(0, n_steps, n)).astype(np.int64))
    horizon_hours = n_steps * step_hours
    # hours read better for a short horizon; days once the hour numbers pass a hundred or so
    unit, scale = ("hours", 1.0) if horizon_hours <= 48 + 1e-9 else ("days", 1.0 / 24.0)
    return TimeAxis(steps=steps, x=steps * step_hours * scale, unit=unit)


def quantile_bands(values: np.ndarray, axis_steps: np.ndarray) -> np.ndarray:
    """Fan-chart quantiles across paths.

    Parameters
    ----------
    values : (n_sample, n_steps + 1) array, one row per path
    axis_steps : (n_points,) step indices to keep

    Returns
    -------
    (len(FAN_QUANTILES), n_points) array
    """
    return np.quantile(values[:, axis_steps], FAN_QUANTILES, axis=0)


def risk_score(wallet: float, modes: Iterable[Mapping[str, Any]]) -> tuple[float, float]:
    """How alarming a portfolio is: its worst ES 99 % as a share of the wallet, then its worst
    liquidation probability, over its books (one metrics dict per mode)."""
    wallet = float(wallet or 0.0)
    modes = list(modes)
    es_share = max((m["es_99"] / wallet if wallet > 0 else 0.0) for m in modes)
    return es_share, max(m["p_liquidation"] for m in modes)


def riskiest(scores: Sequence[tuple[float, float]], limit: int) -> list[int]:
    """Indices of the `limit` portfolios with the highest `risk_score`, in config order (ties keep
    the config order, so a run always picks the same ones)."""
    if len(scores) <= limit:
        return list(range(len(scores)))
    ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    return sorted(ranked[:limit])


def select_detail(scores: Sequence[tuple[float, float]], limit: int = MAX_DETAIL) -> list[int]:
    """The portfolios that get detail figures: all of them up to `limit`, else the riskiest.

    Parameters
    ----------
    scores : each portfolio's `risk_score`, in config (or sweep) order
    """
    return riskiest(scores, limit)


@dataclass(frozen=True)
class DetailBands:
    """What the run works out for the report's detail figures, so the report re-runs nothing.

    Attributes
    ----------
    portfolios : indices of the detailed portfolios (`select_detail`), in config order
    axis : the thinned time axis the bands are taken at (`time_axis`)
    equity : {(portfolio index, mode): (len(FAN_QUANTILES), n_points) equity quantiles across
        the sampled paths, at `axis.steps`}
    """

    portfolios: tuple[int, ...]
    axis: TimeAxis
    equity: dict[tuple[int, str], np.ndarray]
