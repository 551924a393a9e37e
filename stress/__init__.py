"""stress: Monte Carlo stress tests of leveraged crypto perpetual-futures portfolios.

Public API (SPEC section 4)::

    import stress
    cfg = stress.load_config("configs/btc_eth_hedge.yaml")
    res = stress.run(cfg)
    res.summary                      # one row per (portfolio, mode)
    stress.liquidation_prices(cfg)   # closed-form, at current marks
"""

from stress.calibrate import calibrate
from stress.config import load_config
from stress.errors import ConfigError
from stress.liqprices import liquidation_prices
from stress.run import RunResult, generate_paths, run
from stress.version import __version__

__all__ = [
    "ConfigError",
    "RunResult",
    "__version__",
    "calibrate",
    "generate_paths",
    "liquidation_prices",
    "load_config",
    "run",
]
