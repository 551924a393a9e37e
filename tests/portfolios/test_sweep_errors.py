"""Bad sweeps (`sweep:`): one line naming the field, for the grid and random specs, the base
and the layout of the config; TOML's dotted names; the base as a template.

The base config is sweep_cases.sweep_config's: tests/support/bad_input.py's BASE with its book
replaced by a sweep of a BTC long (cross) and an ETH short (isolated), 20,000 each, 10x, wallet
10,000.
"""

from __future__ import annotations

import math

import pytest
from conftest import to_toml
from sweep_cases import BTC, ETH, expand, sweep_config

import stress

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
