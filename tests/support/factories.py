"""Small config builders shared by the engine tests."""

from __future__ import annotations

import copy

import numpy as np

import stress
from stress.margin.engine import evaluate_prices
from stress.margin.funding import market_rules
from stress.paths import TimeGrid
from stress.pipeline.prepare import prepare


def one_asset_config(
    *,
    side: str = "long",
    notional: float = 10_000.0,
    leverage: float = 10.0,
    wallet: float = 10_000.0,
    margin: float | None = None,
    margin_mode: str = "isolated",
    price: float = 100.0,
    vol: float = 0.8,
    drift: float = 0.0,
    mmr: float = 0.005,
    fee: float = 0.0,
    funding_rate: float = 0.0,
    paths: int = 4096,
    horizon_days: float = 7.0,
    steps_per_day: int = 96,
    modes: tuple[str, ...] = ("isolated", "cross", "as_configured"),
    seed: int = 1,
) -> dict:
    pos = {
        "id": "p",
        "asset": "X",
        "side": side,
        "notional": notional,
        "leverage": leverage,
        "margin_mode": margin_mode,
    }
    if margin is not None:
        pos["margin"] = margin
    return {
        "name": "t",
        "seed": seed,
        "simulation": {
            "paths": paths,
            "horizon_days": horizon_days,
            "steps_per_day": steps_per_day,
        },
        "model": {"type": "gbm", "assets": {"X": {"price": price, "vol": vol, "drift": drift}}},
        "exchange": {
            "liquidation_fee": fee,
            "funding": {"rate": funding_rate, "interval_hours": 8.0},
            "default_market": {"mmr": mmr, "max_leverage": 125.0},
        },
        "account": {"wallet": wallet},
        "positions": [pos],
        "modes": list(modes),
    }


def two_asset_config(**overrides) -> dict:
    cfg = {
        "name": "pair",
        "seed": 5,
        "simulation": {"paths": 2048, "horizon_days": 2.0, "steps_per_day": 96},
        "model": {
            "type": "gbm",
            "assets": {
                "BTC": {"price": 60_000.0, "vol": 0.7},
                "ETH": {"price": 3_000.0, "vol": 0.9},
            },
            "correlation": [[1.0, 0.8], [0.8, 1.0]],
        },
        "exchange": {
            "liquidation_fee": 0.005,
            "funding": {"rate": 0.0001, "interval_hours": 8.0},
            "markets": {
                "BTC": {
                    "tiers": [
                        {"max_notional": 50_000.0, "max_leverage": 125.0, "mmr": 0.004},
                        {"max_notional": 250_000.0, "max_leverage": 100.0, "mmr": 0.005},
                        {"max_notional": 1_000_000.0, "max_leverage": 50.0, "mmr": 0.01},
                    ]
                }
            },
            "default_market": {"mmr": 0.0065, "max_leverage": 75.0},
        },
        "account": {"wallet": 10_000.0},
        "positions": [
            {
                "id": "btc",
                "asset": "BTC",
                "side": "short",
                "notional": 40_000.0,
                "leverage": 20.0,
                "margin_mode": "cross",
            },
            {
                "id": "eth",
                "asset": "ETH",
                "side": "long",
                "notional": 40_000.0,
                "leverage": 20.0,
                "margin_mode": "isolated",
                "margin": 2_500.0,
            },
        ],
    }
    cfg = copy.deepcopy(cfg)
    cfg.update(overrides)
    return cfg


def engine_on(cfg_dict: dict, prices: np.ndarray):
    """Run the engine of a config on given prices: (layout, PathResults).

    The funding schedule follows the prices' length, which may differ from the config's grid.
    """
    cfg = stress.load_config(cfg_dict)
    plan = prepare(cfg)
    layout, grid = plan.layout, plan.grid
    rules = market_rules(cfg, TimeGrid(n_steps=prices.shape[1] - 1, dt=grid.dt))
    return layout, evaluate_prices(layout, rules, prices)
