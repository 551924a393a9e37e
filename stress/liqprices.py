"""Closed-form liquidation prices of every position under every mode, at current marks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stress.config import Config, load_config
from stress.margin.rules import TierTable, bucket_liquidation_prices, liquidation_price
from stress.portfolio import ResolvedPortfolio, market_tables, resolve_portfolios


def _cross_prices(
    members: list, wallet_balance: float, marks: np.ndarray, tables: dict[str, TierTable]
) -> dict[str, float | None]:
    """Binance cross formula for each member, the others held at current marks."""
    prices = bucket_liquidation_prices(
        [p.side for p in members],
        [p.quantity for p in members],
        [p.entry_price for p in members],
        [marks[p.asset_index] for p in members],
        wallet_balance,
        [tables[p.asset] for p in members],
    )
    return {p.id: lp for p, lp in zip(members, prices, strict=True)}


def portfolio_liquidation_prices(
    port: ResolvedPortfolio, mode: str, marks: np.ndarray, tables: dict[str, TierTable]
) -> dict[str, float | None]:
    """{position id: liquidation price or None} for one portfolio under one mode."""

    def isolated(p):
        return liquidation_price(p.side, p.quantity, p.entry_price, p.margin, tables[p.asset])

    if mode == "isolated":
        return {p.id: isolated(p) for p in port.positions}
    if mode == "cross":
        return _cross_prices(list(port.positions), port.wallet, marks, tables)
    iso = [p for p in port.positions if p.margin_mode == "isolated"]
    cross = [p for p in port.positions if p.margin_mode == "cross"]
    rest = port.wallet - sum(p.margin for p in iso)
    prices = {p.id: isolated(p) for p in iso}
    prices.update(_cross_prices(cross, rest, marks, tables))
    return {p.id: prices[p.id] for p in port.positions}


def liquidation_prices(cfg: Config | dict | str) -> pd.DataFrame:
    """Closed-form liquidation price of every position under each configured mode.

    Returns
    -------
    DataFrame with columns portfolio, id, asset, mode, liquidation_price (NaN where none exists).
    """
    cfg = load_config(cfg)
    marks = np.array([a.price for a in cfg.model.assets.values()])
    tables = market_tables(cfg)
    rows = []
    for port in resolve_portfolios(cfg):
        for mode in cfg.modes:
            prices = portfolio_liquidation_prices(port, mode, marks, tables)
            for p in port.positions:
                lp = prices[p.id]
                rows.append(
                    {
                        "portfolio": port.name,
                        "id": p.id,
                        "asset": p.asset,
                        "mode": mode,
                        "liquidation_price": np.nan if lp is None else float(lp),
                    }
                )
    return pd.DataFrame(rows, columns=["portfolio", "id", "asset", "mode", "liquidation_price"])
