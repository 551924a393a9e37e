"""Generated portfolio sets (`sweep:`) from a grid: size, order, names, the parameters
applied to the positions, isolated_share.

The base config is sweep_cases.sweep_config's: tests/support/bad_input.py's BASE with its book
replaced by a sweep of a BTC long (cross) and an ETH short (isolated), 20,000 each, 10x, wallet
10,000.
"""

from __future__ import annotations

import copy

import pytest
from support.bad_input import BASE
from sweep_cases import BTC, ETH, by_id, expand, sweep_config

import stress
from stress.config.schema import Account, Position
from stress.portfolios.resolve import resolve_portfolio, resolve_portfolios

# ---------------------------------------------------------------------------------------------
# Grids: size, order, names, parameters


def test_grid_is_the_product_in_the_order_written():
    ports, report = expand(
        sweep_config(grid={"leverage": [4, 5, 10], "side.eth": ["long", "short"]})
    )
    assert [p.params for p in ports] == [
        {"leverage": lev, "side.eth": side}
        for lev in (4.0, 5.0, 10.0)
        for side in ("long", "short")
    ]
    assert [p.name for p in ports] == [f"bad-input-{i}" for i in range(6)]
    assert report == {
        "kind": "grid",
        "parameters": ["leverage", "side.eth"],
        "requested": 6,
        "kept": 6,
        "dropped": 0,
        "reasons": {},
        "examples": [],
    }


def test_names_take_the_prefix_and_one_zero_padded_width():
    ports, _ = expand(sweep_config(name="lev", grid={"leverage": list(range(1, 13))}))
    # 1x-3x need more margin than the wallet holds: dropped, and their indices with them
    assert [p.name for p in ports] == [f"lev-{i:02d}" for i in range(3, 12)]


def test_parameters_are_applied_to_the_positions():
    grid = {
        "notional": [40000],
        "weights": [[1, 3]],
        "leverage": [4],
        "leverage.eth": [8],  # a position's own parameter wins over the portfolio's
        "side": ["short"],
        "wallet": [20000],
    }
    (port,), _ = expand(sweep_config(grid=grid))
    btc, eth = by_id(port)["btc"], by_id(port)["eth"]
    assert port.wallet == 20000
    assert (btc.entry_notional, eth.entry_notional) == pytest.approx((10000, 30000))
    assert (btc.leverage, eth.leverage) == (4, 8)
    assert (btc.side, eth.side) == ("short", "short")
    assert (btc.margin, eth.margin) == pytest.approx((2500, 3750))  # initial margins
    assert (btc.margin_mode, eth.margin_mode) == ("cross", "isolated")
    assert (btc.entry_price, eth.entry_price) == (60000, 3000)
    assert port.params == {
        "notional": 40000.0,
        "weight.btc": 0.25,
        "weight.eth": 0.75,
        "leverage": 4.0,
        "leverage.eth": 8.0,
        "side": "short",
        "wallet": 20000.0,
    }


def test_one_weight_leaves_the_others_in_proportion():
    btc2 = {**BTC, "id": "btc2", "side": "short", "notional": 40000}
    (port,), _ = expand(sweep_config([BTC, ETH, btc2], wallet=20000, grid={"weight.eth": [0.5]}))
    notional = {p.id: p.entry_notional for p in port.positions}
    assert notional == pytest.approx({"btc": 40000 / 3, "eth": 40000, "btc2": 80000 / 3})


def test_one_position_notional_leaves_the_others_alone():
    (port,), _ = expand(sweep_config(grid={"notional.eth": [5000]}))
    assert by_id(port)["eth"].entry_notional == pytest.approx(5000)
    assert by_id(port)["btc"].entry_notional == 20000


def test_a_base_margin_stays_unless_the_share_replaces_it():
    eth = {**ETH, "margin": 2500}
    ports, _ = expand(sweep_config([BTC, eth], grid={"leverage": [10, 20]}))
    assert [by_id(p)["eth"].margin for p in ports] == [2500, 2500]
    assert [by_id(p)["btc"].margin for p in ports] == [2000, 1000]


def test_base_without_parameters_resolves_like_a_written_portfolio():
    cfg = sweep_config(grid={"wallet": [10000]})
    (port,), _ = expand(cfg)
    single = copy.deepcopy(BASE)
    single["positions"] = [BTC, ETH]
    (alone,) = resolve_portfolios(stress.load_config(single))
    assert port.positions == alone.positions


def test_generated_portfolios_round_trip_to_the_same_positions():
    """A generated portfolio written back as config positions (sized by quantity at its entry
    price) resolves to the same positions."""
    plan = stress.prepare(sweep_config(grid={"notional": [30000, 50000], "leverage": [7, 9]}))
    cfg = plan.config
    assert len(plan.portfolios) == 4
    for port in plan.portfolios:
        positions = [
            Position.model_construct(
                id=p.id,
                asset=p.asset,
                side=p.side,
                quantity=p.quantity,
                entry_price=p.entry_price,
                leverage=p.leverage,
                margin_mode=p.margin_mode,
                margin=p.margin,
            )
            for p in port.positions
        ]
        account = Account.model_construct(wallet=port.wallet)
        assert resolve_portfolio(cfg, port.name, account, positions).positions == port.positions


# ---------------------------------------------------------------------------------------------
# isolated_share


def test_isolated_share_splits_that_share_of_the_wallet_by_notional():
    btc = {**BTC, "margin_mode": "isolated", "notional": 10000}
    eth = {**ETH, "notional": 30000}
    ports, _ = expand(sweep_config([btc, eth], grid={"isolated_share": [0.4, 0.5, 0.8]}))
    for port, share in zip(ports, (0.4, 0.5, 0.8), strict=True):
        margins = [p.margin for p in port.positions]
        assert sum(margins) == pytest.approx(share * 10000)
        assert margins == pytest.approx([share * 10000 / 4, share * 10000 * 3 / 4])
        assert {p.margin_mode for p in port.positions} == {"isolated"}


def test_isolated_share_of_zero_makes_every_position_cross():
    ports, _ = expand(sweep_config(grid={"isolated_share": [0.0, 0.3]}))
    zero, some = ports
    assert [p.margin_mode for p in zero.positions] == ["cross", "cross"]
    assert [p.margin for p in zero.positions] == pytest.approx([2000, 2000])  # initial margins
    assert by_id(some)["eth"].margin == pytest.approx(3000)
    assert by_id(some)["btc"].margin_mode == "cross"  # only positions marked isolated move
    # as_configured is then one cross bucket holding the whole wallet, like mode cross
    cfg = stress.load_config(sweep_config(grid={"isolated_share": [0.0]}))
    layout = stress.run(cfg, paths=64).layout
    books = {b.mode: k for k, b in enumerate(layout.books)}
    first = layout.book_first_bucket[books["as_configured"]]
    assert layout.bucket_collateral[first] == 10000
    assert layout.bucket_end[first] - layout.bucket_start[first] == 2
