"""Generated portfolio sets (`sweep:`): expansion, parameters, dropped points, errors, outputs.

The base config is tests/support/bad_input.py's BASE (BTC with a 125x/100x/50x tier table, ETH
on the default market, 125x) with its book replaced by a sweep of a BTC long (cross) and an ETH
short (isolated), 20,000 each, 10x, wallet 10,000.
"""

from __future__ import annotations

import copy
import json
import math
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, run_stress_many, to_toml
from support.bad_input import BASE

import stress
import stress.pipeline.prepare
from stress.config import Config
from stress.config.schema import Account, Position
from stress.output.publish import write_outputs
from stress.portfolios.resolve import resolve_portfolio, resolve_portfolios

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


# ---------------------------------------------------------------------------------------------
# Random sampling


RANDOM = {
    "n": 200,
    "seed": 3,
    "params": {
        "leverage": {"loguniform": [5, 20]},
        "notional": {"uniform": [10000, 30000]},
        "weights": {"dirichlet": 1.0},
        "side.btc": {"choice": ["long", "short"]},
        "wallet": {"choice": [10000, 12000]},
    },
}


def test_random_draws_n_portfolios_within_the_bounds():
    ports, report = expand(sweep_config(random=RANDOM))
    assert (report["requested"], report["kept"], len(ports)) == (200, 200, 200)
    assert report["parameters"] == [
        "leverage",
        "notional",
        "weight.btc",
        "weight.eth",
        "side.btc",
        "wallet",
    ]
    lev = np.array([p.params["leverage"] for p in ports])
    notional = np.array([p.params["notional"] for p in ports])
    weights = np.array([[p.params["weight.btc"], p.params["weight.eth"]] for p in ports])
    assert lev.min() >= 5 and lev.max() <= 20
    assert notional.min() >= 10000 and notional.max() <= 30000
    assert np.all(weights > 0) and np.allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert {p.params["side.btc"] for p in ports} == {"long", "short"}
    assert {p.params["wallet"] for p in ports} == {10000.0, 12000.0}
    # log-uniform: the median is near the geometric mean, sqrt(5 * 20) = 10 (SE ~ 0.5 here)
    assert abs(np.median(lev) - 10) < 2.5
    for port in ports:  # and the draws are what the positions got
        btc, eth = by_id(port)["btc"], by_id(port)["eth"]
        assert btc.entry_notional + eth.entry_notional == pytest.approx(port.params["notional"])
        assert btc.entry_notional / port.params["notional"] == pytest.approx(
            port.params["weight.btc"]
        )
        assert btc.leverage == eth.leverage == port.params["leverage"]
        assert btc.side == port.params["side.btc"] and eth.side == "short"
        assert port.wallet == port.params["wallet"]


def test_random_is_deterministic_in_its_seed():
    first, _ = expand(sweep_config(random=RANDOM))
    again, _ = expand(sweep_config(random=RANDOM))
    other, _ = expand(sweep_config(random={**RANDOM, "seed": 4}))
    assert [p.params for p in first] == [p.params for p in again]
    assert [p.params for p in first] != [p.params for p in other]


def test_each_parameter_has_its_own_stream():
    """Adding or reordering parameters leaves the other parameters' draws alone."""
    fewer = {**RANDOM, "params": {"leverage": RANDOM["params"]["leverage"]}}
    reordered = {**RANDOM, "params": dict(reversed(list(RANDOM["params"].items())))}
    lev = [
        [p.params["leverage"] for p in expand(sweep_config(random=r))[0]]
        for r in (RANDOM, fewer, reordered)
    ]
    assert lev[0] == lev[1] == lev[2]


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


# ---------------------------------------------------------------------------------------------
# Bad specs: one line naming the field


def random_with(params: dict, **extra) -> dict:
    return {"random": {"n": 10, "seed": 1, "params": params} | extra}


ALLOWED = (
    "allowed: leverage, notional, weights, side, isolated_share, wallet, leverage.<id>, "
    "notional.<id>, weight.<id>, side.<id>"
)
TWO_WEIGHTS = "expected a list of 2 weights (one per position: btc, eth)"
ONE_DISTRIBUTION = (
    "expected one distribution, {choice: [...]} or {loguniform: [lo, hi]} or {uniform: [lo, hi]}"
)
TOO_MANY = {f"leverage{s}": [5] * 20 for s in ("", ".btc", ".eth")} | {"side": ["long"] * 13}
R = "sweep.random.params"

BAD_SPECS = [
    # parameter names
    ({"grid": {"levrage": [1]}}, f"sweep.grid.levrage: unknown parameter ({ALLOWED})"),
    (
        {"grid": {"leverage.btcc": [5]}},
        "sweep.grid.leverage.btcc: unknown position id 'btcc' (known: btc, eth)",
    ),
    ({"grid": {"isolated_share.eth": [0.5]}}, "sweep.grid.isolated_share.eth: unknown parameter"),
    ({"grid": {"weights.eth": [0.5]}}, "sweep.grid.weights.eth: unknown parameter"),
    # grid lists and values
    ({"grid": {"leverage": []}}, "sweep.grid.leverage: expected at least 1 item, got []"),
    (
        {"grid": {"leverage": 5}},
        "sweep.grid.leverage: expected a list of values, got 5 (an integer)",
    ),
    (
        {"grid": {"side": "long"}},
        "sweep.grid.side: expected a list of values, got 'long' (a string)",
    ),
    (
        {"grid": {"leverage": [5, "10x"]}},
        "sweep.grid.leverage[1]: expected a number, got '10x' (a string)",
    ),
    (
        {"grid": {"leverage": [True]}},
        "sweep.grid.leverage[0]: expected a number, got true (a boolean)",
    ),
    ({"grid": {"leverage": [5, 0]}}, "sweep.grid.leverage[1]: expected a number > 0, got 0"),
    ({"grid": {"leverage": [-2]}}, "sweep.grid.leverage[0]: expected a number > 0, got -2"),
    (
        {"grid": {"leverage": [math.nan]}},
        "sweep.grid.leverage[0]: expected a finite number, got nan",
    ),
    ({"grid": {"notional.eth": [-1]}}, "sweep.grid.notional.eth[0]: expected a number > 0, got -1"),
    ({"grid": {"wallet": [0]}}, "sweep.grid.wallet[0]: expected a number > 0, got 0"),
    (
        {"grid": {"isolated_share": [0.5, 1.5]}},
        "sweep.grid.isolated_share[1]: expected a number in [0, 1], got 1.5",
    ),
    (
        {"grid": {"isolated_share": [-0.1]}},
        "sweep.grid.isolated_share[0]: expected a number in [0, 1], got -0.1",
    ),
    (
        {"grid": {"side.btc": ["buy"]}},
        "sweep.grid.side.btc[0]: expected 'long' or 'short', got 'buy'",
    ),
    ({"grid": {"weights": [[1, 2, 3]]}}, f"sweep.grid.weights[0]: {TWO_WEIGHTS}, got 3 weights"),
    (
        {"grid": {"weights": [0.5, 0.5]}},
        f"sweep.grid.weights[0]: {TWO_WEIGHTS}, got 0.5 (a decimal number)",
    ),
    ({"grid": {"weights": [[0, 1]]}}, "sweep.grid.weights[0][0]: expected a number > 0, got 0"),
    (
        {"grid": {"weight.btc": [1.0]}},
        "sweep.grid.weight.btc[0]: expected a number in (0, 1), got 1.0",
    ),
    # combinations
    (
        {"grid": {"weight.btc": [0.3], "weight.eth": [0.7]}},
        "sweep.grid.weight.eth: weight.<id> may name at most 1 of the 2 positions (the others "
        "share what is left); use weights to set them all",
    ),
    (
        {"grid": {"weights": [[1, 1]], "weight.eth": [0.7]}},
        "sweep.grid.weight.eth: cannot be combined with weights",
    ),
    (
        {"grid": {"notional": [1000], "notional.eth": [500]}},
        "sweep.grid.notional.eth: cannot be combined with notional or weights",
    ),
    (
        {"grid": {"weight.btc": [0.5], "notional.eth": [500]}},
        "sweep.grid.notional.eth: cannot be combined with weight.<id>",
    ),
    # the sweep block
    ({"grid": {}}, "sweep.grid: expected at least 1 item, got {}"),
    (
        {"grid": TOO_MANY},
        "sweep.grid: expected at most 100,000 portfolios, got 104,000 (20 x 20 x 20 x 13)",
    ),
    (
        {"grid": {"leverage": [5]}, "random": {"n": 1, "params": {"leverage": {"choice": [5]}}}},
        "sweep: expected either grid or random, got both",
    ),
    ({}, "sweep: expected either grid or random, got neither"),
    ({"grids": {"leverage": [5]}}, "sweep.grids: unknown key (allowed: base, grid, name, random)"),
    (
        {"name": "my sweep", "grid": {"leverage": [5]}},
        "sweep.name: expected only letters, digits, '_', '.' and '-'",
    ),
    # random: distributions
    (
        random_with({"leverage": {"uniform": [10, 2]}}),
        f"{R}.leverage.uniform: expected lo <= hi, got [10, 2]",
    ),
    (
        random_with({"leverage": {"uniform": [1]}}),
        f"{R}.leverage.uniform: expected [lo, hi], got [1] (a list)",
    ),
    (
        random_with({"leverage": {"uniform": [0, 2]}}),
        f"{R}.leverage.uniform[0]: expected a number > 0, got 0",
    ),
    (
        random_with({"leverage": {"normal": [1, 2]}}),
        f"{R}.leverage.normal: unknown distribution for leverage (allowed: choice, loguniform, "
        "uniform)",
    ),
    (
        random_with({"leverage": {"dirichlet": 1.0}}),
        f"{R}.leverage.dirichlet: unknown distribution",
    ),
    (
        random_with({"side": {"uniform": [0, 1]}}),
        f"{R}.side.uniform: unknown distribution for side (allowed: choice)",
    ),
    (random_with({"leverage": [1, 2]}), f"{R}.leverage: {ONE_DISTRIBUTION}, got [1, 2] (a list)"),
    (
        random_with({"leverage": {"uniform": [1, 2], "choice": [3]}}),
        f"{R}.leverage: {ONE_DISTRIBUTION}",
    ),
    (
        random_with({"isolated_share": {"loguniform": [0, 0.5]}}),
        f"{R}.isolated_share.loguniform[0]: expected a number > 0 (a log scale starts above 0), "
        "got 0",
    ),
    (
        random_with({"isolated_share": {"uniform": [0.5, 2]}}),
        f"{R}.isolated_share.uniform[1]: expected a number in [0, 1], got 2",
    ),
    (
        random_with({"weights": {"dirichlet": 0}}),
        f"{R}.weights.dirichlet: expected a number > 0, got 0",
    ),
    (
        random_with({"weights": {"dirichlet": [1, 1, 1]}}),
        f"{R}.weights.dirichlet: expected one alpha or 2 (one per position), got 3",
    ),
    (
        random_with({"side.btc": {"choice": []}}),
        f"{R}.side.btc.choice: expected a non-empty list of values, got [] (a list)",
    ),
    (
        random_with({"side.xyz": {"choice": ["long"]}}),
        f"{R}.side.xyz: unknown position id 'xyz' (known: btc, eth)",
    ),
    # random: the block
    (random_with({}), f"{R}: expected at least 1 item, got {{}}"),
    (
        random_with({"leverage": {"choice": [5]}}, sead=2),
        "sweep.random.sead: unknown key (allowed: n, params, seed)",
    ),
    (
        random_with({"leverage": {"choice": [5]}}, n=0),
        "sweep.random.n: expected a number >= 1, got 0",
    ),
    (
        random_with({"leverage": {"choice": [5]}}, n=100_001),
        "sweep.random.n: expected a number <= 100000, got 100001",
    ),
    (
        random_with({"leverage": {"choice": [5]}}, n=1.5),
        "sweep.random.n: expected an integer, got 1.5",
    ),
]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    BAD_SPECS,
    ids=[f"{f[: f.index(':')]}-{i}" for i, (_, f) in enumerate(BAD_SPECS)],
)
def test_bad_sweep_specs(spec, fragment):
    with pytest.raises(stress.ConfigError) as info:
        stress.prepare(sweep_config(**spec))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("<config>: " + fragment), message


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        pytest.param(
            lambda c: c["sweep"]["base"]["positions"][1].update(asset="DOGE"),
            "sweep.base.positions[1].asset: expected an asset of model.assets (BTC, ETH), "
            "got 'DOGE'",
            id="base-asset",
        ),
        pytest.param(
            lambda c: c["sweep"]["base"]["positions"][1].update(id="btc"),
            "sweep.base.positions[1].id: duplicate id 'btc' (also positions[0])",
            id="base-duplicate-id",
        ),
        pytest.param(
            lambda c: c["sweep"]["base"]["positions"][0].update(quantity=1),
            "sweep.base.positions[0]: give exactly one of notional or quantity, got both",
            id="base-sizing",
        ),
        pytest.param(
            lambda c: c["sweep"]["base"].pop("account"),
            "sweep.base.account: required field is missing",
            id="base-account",
        ),
        pytest.param(
            lambda c: c["sweep"]["base"]["positions"][0].update(leverage="5x"),
            "sweep.base.positions[0].leverage: expected a number, got '5x' (a string)",
            id="base-type",
        ),
        pytest.param(
            lambda c: c["sweep"]["base"]["positions"][1].update(margin_mode="cross"),
            "sweep.grid.isolated_share: needs a position with margin_mode: isolated in "
            "sweep.base, got none",
            id="share-without-isolated-positions",
        ),
        pytest.param(
            lambda c: c.update(account={"wallet": 1}),
            "sweep: expected either a sweep or account + positions, got both",
            id="sweep-and-account",
        ),
        pytest.param(
            lambda c: c.update(portfolios=[{"name": "a", **c["sweep"]["base"]}]),
            "sweep: expected either a sweep or a portfolios list, got both",
            id="sweep-and-portfolios",
        ),
    ],
)
def test_bad_sweep_bases_and_layouts(edit, fragment):
    cfg = sweep_config(grid={"isolated_share": [0.5]})
    edit(cfg)
    with pytest.raises(stress.ConfigError) as info:
        stress.prepare(cfg)
    assert str(info.value).startswith("<config>: " + fragment), str(info.value)


def test_toml_dotted_names(tmp_path):
    """TOML needs dotted parameter names quoted; unquoted ones get a pointed message."""
    path = tmp_path / "c.toml"
    cfg = sweep_config(grid={"side.btc": ["long", "short"]})
    path.write_text(to_toml(cfg), encoding="utf-8")
    assert len(stress.prepare(path).sweep.portfolios) == 2
    path.write_text(to_toml(cfg).replace('"side.btc"', "side.btc"), encoding="utf-8")
    with pytest.raises(stress.ConfigError) as info:
        stress.prepare(path)
    assert str(info.value) == (
        f"{path}: sweep.grid.side: expected one key per position, like 'side.btc', got a mapping "
        'by position id (in TOML, quote dotted names: "side.btc" = ...)'
    )


def test_the_base_is_a_template_its_limits_are_checked_per_point():
    # 200x is above BTC's 125x, but every point replaces it
    btc = {**BTC, "leverage": 200}
    ports, _ = expand(sweep_config([btc, ETH], grid={"leverage": [5, 10]}))
    assert len(ports) == 2


# ---------------------------------------------------------------------------------------------
# Results: one row per (portfolio, mode), parameters as columns, every portfolio on the same paths


@pytest.fixture(scope="module")
def small_run():
    grid = {"leverage": [5, 5, 20], "side.btc": ["long", "short"]}
    return stress.run(sweep_config(name="s", grid=grid), paths=512)


def test_summary_has_the_parameter_columns(small_run):
    df = small_run.summary
    assert list(df.columns[:4]) == ["portfolio", "mode", "leverage", "side.btc"]
    assert df.columns.is_unique
    assert len(df) == 6 * 3
    assert list(df.groupby(["portfolio", "mode"]).size().unique()) == [1]
    row = df[(df.portfolio == "s-5") & (df["mode"] == "cross")].iloc[0]
    assert (row["leverage"], row["side.btc"]) == (20.0, "short")


def test_identical_points_give_identical_metrics(small_run):
    """Common random numbers: two copies of a portfolio see the same paths."""
    df = small_run.summary.drop(columns="portfolio")
    for side_offset in (0, 1):
        a = df.iloc[[3 * side_offset + m for m in range(3)]].reset_index(drop=True)
        b = df.iloc[[3 * (2 + side_offset) + m for m in range(3)]].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_a_generated_portfolio_matches_the_same_portfolio_run_alone(small_run):
    single = copy.deepcopy(BASE)
    single["positions"] = [{**BTC, "leverage": 20, "side": "short"}, {**ETH, "leverage": 20}]
    alone = stress.run(single, paths=512).summary.drop(columns="portfolio")
    swept = small_run.summary
    swept = swept[swept.portfolio == "s-5"].drop(columns=["portfolio", "leverage", "side.btc"])
    pd.testing.assert_frame_equal(swept.reset_index(drop=True), alone.reset_index(drop=True))


def test_outputs_carry_the_parameters(small_run, tmp_path):
    write_outputs(small_run, tmp_path)
    table = pd.read_parquet(tmp_path / "results.parquet")
    pd.testing.assert_frame_equal(table, small_run.summary)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["sweep"]["requested"] == summary["sweep"]["kept"] == 6
    assert summary["sweep"]["parameters"] == ["leverage", "side.btc"]
    assert [p["params"] for p in summary["portfolios"]] == [
        {"leverage": lev, "side.btc": side} for lev in (5, 5, 20) for side in ("long", "short")
    ]


def test_portfolios_outside_a_sweep_have_no_parameters():
    res = stress.run(copy.deepcopy(BASE), paths=256)
    assert all(p["params"] == {} for p in res.to_dict()["portfolios"])
    assert "sweep" not in res.to_dict()
    assert list(res.summary.columns[:3]) == ["portfolio", "mode", "p_liquidation"]


# ---------------------------------------------------------------------------------------------
# The shipped example, speed, one expansion per prepare


def test_the_example_expands_to_over_a_thousand_portfolios():
    report = stress.prepare(EXAMPLE).sweep.report
    assert report.requested == 6 * 9 * 12 * 2
    assert report.kept >= 1000
    assert report.parameters == ("notional", "leverage", "isolated_share", "side.btc")


def test_ten_thousand_points_expand_quickly():
    grid = {"notional": list(range(20000, 70000, 500)), "leverage": list(range(5, 105))}
    cfg = sweep_config(grid=grid, wallet=100000)
    start = time.perf_counter()
    ports, report = expand(cfg)
    elapsed = time.perf_counter() - start
    assert report["requested"] == report["kept"] == len(ports) == 10000
    assert elapsed < 5.0, f"expanding 10,000 points took {elapsed:.2f} s"


def test_prepare_expands_the_sweep_once_and_does_not_change_the_config(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(sweep_config(grid={"leverage": [5, 10]})), encoding="utf-8")
    cfg = stress.load_config(path)
    calls = []
    real_expand = stress.pipeline.prepare.expand

    def counting_expand(config):
        calls.append(config)
        return real_expand(config)

    monkeypatch.setattr(stress.pipeline.prepare, "expand", counting_expand)
    plan = stress.prepare(cfg)
    assert len(calls) == 1
    assert len(plan.portfolios) == 2
    assert all(a is b for a, b in zip(plan.portfolios, plan.sweep.portfolios, strict=True))
    fresh = Config.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert fresh == cfg  # prepared, still the same config
    other = stress.prepare(cfg.model_copy(update={"modes": ["cross"]}))
    assert len(calls) == 2 and other.sweep is not plan.sweep


# ---------------------------------------------------------------------------------------------
# Through the command line


@pytest.fixture(scope="module")
def cli_outcomes(tmp_path_factory):
    """Three subprocesses at once: two bad sweeps through `stress run`, the example validated."""
    folder = tmp_path_factory.mktemp("sweep-cli")
    bad = {
        "unknown-id": sweep_config(grid={"leverage.btcc": [5]}),
        "nothing-feasible": sweep_config(grid={"leverage": [200]}),
    }
    jobs = {}
    for name, cfg in bad.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
        jobs[name] = [
            "run",
            str(folder / f"{name}.yaml"),
            "--out",
            str(folder / f"{name}-out"),
        ]
    jobs["validate-example"] = ["validate", str(EXAMPLE)]
    return folder, run_stress_many({name: (args, folder) for name, args in jobs.items()}, workers=3)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("unknown-id", "sweep.grid.leverage.btcc: unknown position id 'btcc' (known: btc, eth)"),
        ("nothing-feasible", "sweep: no feasible portfolio: all 1 point dropped"),
    ],
    ids=["unknown-id", "nothing-feasible"],
)
def test_cli_bad_sweep_exits_2_with_one_line_and_writes_nothing(cli_outcomes, name, fragment):
    folder, outcomes = cli_outcomes
    proc = outcomes[name]
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {folder / name}.yaml: {fragment}"), lines[0]
    assert proc.stdout == ""
    assert not (folder / f"{name}-out").exists()
    assert not (folder / "reports").exists()


def test_cli_validates_the_example(cli_outcomes):
    _, outcomes = cli_outcomes
    proc = outcomes["validate-example"]
    assert proc.returncode == 0, proc.stderr
    kept = stress.prepare(EXAMPLE).sweep.report.kept
    assert f"{kept} portfolio(s), {3 * kept} position(s)" in proc.stdout
