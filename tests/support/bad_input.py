"""A small valid config and a way to break it, shared by the bad-input tests."""

from __future__ import annotations

import copy

# A small valid config: two assets, a BTC tier table (125x to 50k, 100x to 250k, 50x to 1M),
# one cross and one isolated position.
BASE: dict = {
    "name": "bad-input",
    "seed": 1,
    "simulation": {"paths": 64, "horizon_days": 1, "steps_per_day": 24},
    "model": {
        "type": "gbm",
        "assets": {"BTC": {"price": 60000, "vol": 0.6}, "ETH": {"price": 3000, "vol": 0.8}},
        "correlation": [[1.0, 0.8], [0.8, 1.0]],
    },
    "exchange": {
        "markets": {
            "BTC": {
                "tiers": [
                    {"max_notional": 50000, "max_leverage": 125, "mmr": 0.004},
                    {"max_notional": 250000, "max_leverage": 100, "mmr": 0.005},
                    {"max_notional": 1000000, "max_leverage": 50, "mmr": 0.01},
                ]
            }
        }
    },
    "account": {"wallet": 10000},
    "positions": [
        {
            "id": "btc-long",
            "asset": "BTC",
            "side": "long",
            "notional": 20000,
            "leverage": 10,
            "margin_mode": "cross",
        },
        {
            "id": "eth-short",
            "asset": "ETH",
            "side": "short",
            "notional": 20000,
            "leverage": 10,
            "margin_mode": "isolated",
            "margin": 2500,
        },
    ],
    "modes": ["isolated", "cross", "as_configured"],
}

DELETE = object()


def mutated(*edits: tuple[str, object]) -> dict:
    """BASE with edits applied; a key is a dotted path where digits index lists."""
    cfg = copy.deepcopy(BASE)
    for dotted, value in edits:
        *head, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        node = cfg
        for part in head:
            node = node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return cfg
