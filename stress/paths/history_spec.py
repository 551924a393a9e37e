"""The `ModelSpec` of a history model: paths drawn (bootstrap), cut (replay) or simulated from a
conditional-volatility model fitted to its history (garch, fhs, ewma)."""

from __future__ import annotations

import numpy as np

from stress.config.schema import VOLATILITY_MODELS, Config
from stress.errors import fail
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
    elif model.type in VOLATILITY_MODELS:
        source = volatility_source(cfg, history, per_step, per_bar)
    else:
        source = ReplaySpec(
            closes=history.closes,
            price_times=history.price_times,
            starts=replay_starts(cfg, history),
            bars_per_step=per_step,
            n_steps=grid.n_steps,
            lows=history.lows if model.wicks else None,
            highs=history.highs if model.wicks else None,
        )
    return ModelSpec(
        kind=model.type,
        s0=np.array([a.price for a in assets], dtype=float),
        vol=np.zeros(n),
        drift=np.zeros(n),
        corr=np.eye(n),
        source=source,
    )


def ewma_decay(cfg: Config, bar_hours: float) -> float:
    """The EWMA's decay per bar of a config (`stress.history.fitting.garch.lambda_per_bar`)."""
    from stress.history.fitting.garch import lambda_per_bar

    return lambda_per_bar(bar_hours, cfg.model.decay, cfg.model.half_life_hours)


def volatility_source(cfg: Config, history: History, per_step: int, per_bar: int):
    """The fitted conditional-volatility model of a garch, fhs or ewma config, as the generator
    reads it (`stress.paths.garch.GarchSpec`)."""
    # imported here: a run of another model never loads the fitting code (nor `arch`)
    from stress.history.fitting.garch import fit_garch
    from stress.paths.garch import garch_spec

    model = cfg.model
    decay = ewma_decay(cfg, history.bar_hours) if model.type == "ewma" else None
    fit = fit_garch(
        history.returns, tuple(history.names), history.bar_hours, model.type, ewma_lambda=decay
    )
    drift = np.array([a.drift for a in model.assets.values()], dtype=float)
    start = model.start or "current"
    try:
        return garch_spec(fit, drift, start, per_step, per_bar)
    except ValueError as exc:  # a fit the generator cannot draw from (a stationary start of a
        # variance too persistent to burn in, most likely): say which field to change
        fail("model.start" if start == "stationary" else "model.history", str(exc))
