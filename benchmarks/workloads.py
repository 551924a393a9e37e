"""The benchmark workloads as config dicts (no files needed)."""

from __future__ import annotations

import numpy as np

ASSETS = {
    "BTC": {"price": 60_000.0, "vol": 0.65},
    "ETH": {"price": 3_000.0, "vol": 0.85},
    "SOL": {"price": 150.0, "vol": 1.10},
    "BNB": {"price": 550.0, "vol": 0.80},
}
CORRELATION = [
    [1.00, 0.80, 0.70, 0.65],
    [0.80, 1.00, 0.75, 0.65],
    [0.70, 0.75, 1.00, 0.60],
    [0.65, 0.65, 0.60, 1.00],
]
TIERS = {
    "BTC": [
        (50_000, 125, 0.004),
        (250_000, 100, 0.005),
        (1_000_000, 50, 0.01),
        (10_000_000, 20, 0.025),
    ],
    "ETH": [
        (10_000, 100, 0.005),
        (100_000, 75, 0.0065),
        (500_000, 50, 0.01),
        (1_000_000, 25, 0.02),
    ],
}


def portfolios(n: int, seed: int = 0) -> list[dict]:
    """`n` portfolios of one position per asset: random sides, weights, leverage 2-50x
    (log-uniform), half of the legs isolated; the wallet funds every mode."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        lev = float(np.exp(rng.uniform(np.log(2.0), np.log(50.0))))
        weights = rng.dirichlet(np.ones(len(ASSETS)))
        gross = float(rng.uniform(20_000, 200_000))
        positions = []
        for j, asset in enumerate(ASSETS):
            positions.append(
                {
                    "id": f"{asset.lower()}",
                    "asset": asset,
                    "side": "long" if rng.random() < 0.5 else "short",
                    "notional": max(100.0, round(gross * weights[j], 2)),
                    "leverage": round(min(lev, 50.0), 3),
                    "margin_mode": "isolated" if j % 2 == 0 else "cross",
                }
            )
        im = sum(p["notional"] / p["leverage"] for p in positions)
        out.append(
            {"name": f"p{k:04d}", "account": {"wallet": round(im * 1.5, 2)}, "positions": positions}
        )
    return out


def headline(
    n_portfolios: int = 1_000,
    paths: int = 10_000,
    steps_per_day: int = 1_440,
    horizon_days: float = 1.0,
) -> dict:
    """1,000 portfolios x 10,000 paths x 1,440 one-minute steps x 4 assets, all modes,
    fees, funding and tiers on."""
    return {
        "name": "bench-headline",
        "seed": 42,
        "simulation": {
            "paths": paths,
            "horizon_days": horizon_days,
            "steps_per_day": steps_per_day,
        },
        "model": {"type": "gbm", "assets": ASSETS, "correlation": CORRELATION},
        "exchange": {
            "liquidation_fee": 0.005,
            "funding": {"rate": 0.0001, "interval_hours": 8.0},
            "markets": {
                a: {"tiers": [{"max_notional": c, "max_leverage": m, "mmr": r} for c, m, r in t]}
                for a, t in TIERS.items()
            },
            "default_market": {"mmr": 0.01, "max_leverage": 50.0},
        },
        "portfolios": portfolios(n_portfolios),
        "modes": ["isolated", "cross", "as_configured"],
    }


def quick() -> dict:
    """A scaled-down variant for a fast check: 100 portfolios x 2,000 paths x 288 steps."""
    return headline(n_portfolios=100, paths=2_000, steps_per_day=288)
