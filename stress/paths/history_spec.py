"""The `ModelSpec` of a history model: paths drawn (bootstrap) or cut (replay) from its history."""

from __future__ import annotations

import numpy as np

from stress.config.schema import Config
from stress.history.load import DEFAULT_BLOCK_HOURS, History, replay_starts, step_bars
from stress.paths.bootstrap import BootstrapSpec, centred_returns
from stress.paths.replay import ReplaySpec
from stress.paths.spec import ModelSpec, TimeGrid


def history_spec(cfg: Config, history: History) -> ModelSpec:
    """The `ModelSpec` of a resolved bootstrap or replay config and its history."""
    model = cfg.model
    assets = list(model.assets.values())
    n = len(assets)
    grid = TimeGrid.from_days(cfg.simulation.horizon_days, cfg.simulation.steps_per_day)
    per_step, per_bar = step_bars(cfg, history)
    if model.type == "bootstrap":
        drift = np.array([a.drift for a in assets], dtype=float)
        bar_years = history.bar_seconds / (365.0 * 86400.0)
        demean = True if model.demean is None else model.demean
        block = DEFAULT_BLOCK_HOURS if model.block_hours is None else model.block_hours
        source = BootstrapSpec(
            returns=centred_returns(history.returns, bar_years, drift, demean),
            block_bars=block / history.bar_hours,
            bars_per_step=per_step,
            steps_per_bar=per_bar,
        )
    else:
        source = ReplaySpec(
            closes=history.closes,
            price_times=history.price_times,
            starts=replay_starts(cfg, history),
            bars_per_step=per_step,
            n_steps=grid.n_steps,
        )
    return ModelSpec(
        kind=model.type,
        s0=np.array([a.price for a in assets], dtype=float),
        vol=np.zeros(n),
        drift=np.zeros(n),
        corr=np.eye(n),
        source=source,
    )
