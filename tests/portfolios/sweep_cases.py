"""Helpers shared by the sweep tests of this folder (imported by bare name: pytest puts
tests/portfolios/ on `sys.path` for the test files here).

The base config is tests/support/bad_input.py's BASE (BTC with a 125x/100x/50x tier table, ETH
on the default market, 125x) with its book replaced by a sweep of a BTC long (cross) and an ETH
short (isolated), 20,000 each, 10x, wallet 10,000.
"""

from __future__ import annotations

import copy

from conftest import ROOT
from support.bad_input import BASE

import stress

EXAMPLE = ROOT / "configs" / "sweep_leverage_allocation.yaml"

BTC = {"id": "btc", "asset": "BTC", "side": "long", "notional": 20000, "leverage": 10}
ETH = {
    "id": "eth",
    "asset": "ETH",
    "side": "short",
    "notional": 20000,
    "leverage": 10,
    "margin_mode": "isolated",
}


def sweep_config(positions: list | None = None, wallet: float = 10000, **sweep) -> dict:
    """BASE with its account + positions replaced by a sweep over them."""
    cfg = copy.deepcopy(BASE)
    del cfg["account"], cfg["positions"]
    base = {
        "account": {"wallet": wallet},
        "positions": copy.deepcopy(positions if positions is not None else [BTC, ETH]),
    }
    cfg["sweep"] = {"base": base, **copy.deepcopy(sweep)}
    return cfg


def expand(cfg: dict):
    """(portfolios, report dict) of a sweep config."""
    expansion = stress.prepare(cfg).sweep
    return list(expansion.portfolios), expansion.report.to_dict()


def by_id(port) -> dict:
    return {p.id: p for p in port.positions}
