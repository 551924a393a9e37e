"""The public functions that start from a config and stop short of a run's outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stress.margin.liquidation_prices import PRICE_KEYS, portfolio_liquidation_prices
from stress.paths import simulate_prices
from stress.pipeline.prepare import ConfigLike, prepare

COLUMNS = ["portfolio", "id", "asset", "mode", *PRICE_KEYS]


def generate_paths(
    cfg: ConfigLike, paths: int | None = None, seed: int | None = None
) -> np.ndarray:
    """Simulated mark prices, shape (paths, steps + 1, assets), step 0 = current marks."""
    plan = prepare(cfg, paths, seed)
    return simulate_prices(plan.spec, plan.grid, plan.seed, plan.paths)


def _nan(price: float | None) -> float:
    return np.nan if price is None else float(price)


def liquidation_prices(cfg: ConfigLike) -> pd.DataFrame:
    """Closed-form liquidation prices of every position under each configured mode.

    Returns
    -------
    DataFrame
        Columns portfolio, id, asset, mode, liquidation_price (the nearer to the mark of
        liquidation_price_below and liquidation_price_above), liquidation_price_below (the
        highest price at or below the mark where the position's bucket is liquidated) and
        liquidation_price_above (the lowest at or above it); NaN where none exists.
    """
    plan = prepare(cfg, check_cost=False)
    rows = []
    for port in plan.portfolios:
        for mode in plan.config.modes:
            prices = portfolio_liquidation_prices(port, mode, plan.marks, plan.tables)
            for p in port.positions:
                found = prices[p.id]
                rows.append((port.name, p.id, p.asset, mode, *(_nan(found[k]) for k in PRICE_KEYS)))
    return pd.DataFrame(rows, columns=COLUMNS)
