"""Plain, validated inputs of the path generators (built by the config layer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stress.config.schema import horizon_steps

SECONDS_PER_YEAR = 365.0 * 24 * 3600


@dataclass(frozen=True)
class ModelSpec:
    """A price model in arrays; every field is already validated.

    Attributes
    ----------
    kind : "gbm" | "merton" | "student_t" | "bootstrap" | "replay" | "garch" | "fhs" | "ewma"
    s0, vol, drift : ndarray, shape (n_assets,)
        Current mark price, annualised vol and annualised drift (expected simple return rate).
    corr : ndarray, shape (n_assets, n_assets)
        Correlation matrix (symmetric, unit diagonal, positive semi-definite, maybe singular).
    jump_intensity, jump_mean, jump_std, jump_common : merton only
        Jumps per year, mean and std of the jump log-size, one market-wide jump clock or one per
        asset.
    dof : student_t only, > 2
    source : history models only
        What the paths are drawn or cut from: a `stress.paths.bootstrap.BootstrapSpec`, a
        `stress.paths.replay.ReplaySpec` or a `stress.paths.garch.GarchSpec` (``vol``,
        ``drift`` and ``corr`` are then unused).
    """

    kind: str
    s0: np.ndarray
    vol: np.ndarray
    drift: np.ndarray
    corr: np.ndarray
    jump_intensity: float = 0.0
    jump_mean: float = 0.0
    jump_std: float = 0.0
    jump_common: bool = True
    dof: float = 0.0
    source: Any = None

    @property
    def n_assets(self) -> int:
        return int(self.s0.shape[0])


@dataclass(frozen=True)
class TimeGrid:
    """The simulation clock: `n_steps` steps of `dt` years (365-day year)."""

    n_steps: int
    dt: float

    @property
    def step_hours(self) -> float:
        return self.dt * 365.0 * 24.0

    @classmethod
    def from_days(cls, horizon_days: float, steps_per_day: int) -> TimeGrid:
        n_steps = horizon_steps(horizon_days, steps_per_day)
        return cls(n_steps=n_steps, dt=1.0 / (365.0 * steps_per_day))
