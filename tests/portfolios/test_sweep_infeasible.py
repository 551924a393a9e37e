"""Sweep points that break a rule of the book: dropped, counted and reported, and a config
error when none is left.

The base config is sweep_cases.sweep_config's: tests/support/bad_input.py's BASE with its book
replaced by a sweep of a BTC long (cross) and an ETH short (isolated), 20,000 each, 10x, wallet
10,000.
"""

from __future__ import annotations

import pytest
from sweep_cases import BTC, ETH, expand, sweep_config

import stress

# ---------------------------------------------------------------------------------------------
# Infeasible points


def test_infeasible_points_are_dropped_and_reported():
    cfg = sweep_config(grid={"leverage": [1, 10, 200, 150, 0.5]})
    ports, report = expand(cfg)
    assert [p.name for p in ports] == ["bad-input-1"]
    assert (report["requested"], report["kept"], report["dropped"]) == (5, 1, 4)
    assert report["reasons"] == {
        "account.wallet: must cover the isolated margins of all positions (mode isolated)": 2,
        "positions[0].leverage: must be <=": 2,
    }
    # the first point of each rule
    assert [(e["portfolio"], e["params"]) for e in report["examples"]] == [
        ("bad-input-0", {"leverage": 1.0}),
        ("bad-input-2", {"leverage": 200.0}),
    ]
    assert report["examples"][1]["reason"] == (
        "positions[0].leverage: must be <= 125 for BTC notional 20,000 (tier 1), got 200"
    )
    assert report["examples"][0]["reason"].endswith("expected >= 40,000, got 10,000")


def test_an_isolated_margin_below_the_initial_margin_is_dropped():
    ports, report = expand(sweep_config(grid={"isolated_share": [0.1, 0.2, 0.3]}))
    assert [p.params["isolated_share"] for p in ports] == [0.2, 0.3]
    assert report["examples"][0]["reason"] == (
        "positions[1].margin: must be >= the initial margin 2,000 "
        "(notional 20,000 / leverage 10), got 1,000"
    )


def test_weights_that_leave_nothing_for_the_others_are_dropped():
    btc2 = {**BTC, "id": "btc2"}
    grid = {"weight.btc": [0.3, 0.6], "weight.eth": [0.3, 0.5]}
    ports, report = expand(sweep_config([BTC, ETH, btc2], wallet=20000, grid=grid))
    assert [p.params for p in ports] == [
        {"weight.btc": 0.3, "weight.eth": 0.3},
        {"weight.btc": 0.3, "weight.eth": 0.5},
        {"weight.btc": 0.6, "weight.eth": 0.3},
    ]
    assert report["examples"][0]["reason"] == (
        "weight.btc, weight.eth: the shares sum to 1.1, leaving none for btc2"
    )


def test_no_feasible_point_is_a_config_error():
    with pytest.raises(stress.ConfigError) as info:
        stress.prepare(sweep_config(grid={"leverage": [200, 1]}))
    assert str(info.value) == (
        "<config>: sweep: no feasible portfolio: all 2 points dropped; the first, bad-input-0 "
        "(leverage=200): positions[0].leverage: must be <= 125 for BTC notional 20,000 (tier 1), "
        "got 200"
    )
