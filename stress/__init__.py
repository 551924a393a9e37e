"""stress: Monte Carlo stress tests of leveraged crypto perpetual-futures portfolios.

Public API (README, "Python API")::

    import stress
    cfg = stress.load_config("configs/btc_eth_hedge.yaml")
    res = stress.run(cfg)
    res.summary                      # one row per (portfolio, mode)
    stress.liquidation_prices(cfg)   # closed-form, at current marks
    stress.optimise(cfg).to_dict()   # the hybrid split within account.risk_capital
    stress.backtest().to_dict()      # one-day liquidation forecasts against 2022-2023

Each name is re-exported from its stage and imported on first use, so ``import stress`` (and
the command line's start) does not load the numerical stack until it is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stress.errors import ConfigError
from stress.version import __version__

_WHERE = {
    "RunResult": "stress.pipeline.result",
    "backtest": "stress.pipeline.backtest",
    "calibrate": "stress.history.calibrate",
    "generate_paths": "stress.pipeline.api",
    "liquidation_prices": "stress.pipeline.api",
    "load_config": "stress.config.load",
    "optimise": "stress.pipeline.optimise",
    "prepare": "stress.pipeline.prepare",
    "run": "stress.pipeline.simulate",
}

__all__ = [
    "ConfigError",
    "RunResult",
    "__version__",
    "backtest",
    "calibrate",
    "generate_paths",
    "liquidation_prices",
    "load_config",
    "optimise",
    "prepare",
    "run",
]

if TYPE_CHECKING:
    from stress.config.load import load_config
    from stress.history.calibrate import calibrate
    from stress.pipeline.api import generate_paths, liquidation_prices
    from stress.pipeline.backtest import backtest
    from stress.pipeline.optimise import optimise
    from stress.pipeline.prepare import prepare
    from stress.pipeline.result import RunResult
    from stress.pipeline.simulate import run


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'stress' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
