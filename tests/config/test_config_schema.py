"""Schema errors, in process (stress.config): unknown keys, types, domains, NaN/inf.

Every bad input must raise `stress.ConfigError` with one line that names the source, the field
path, what was expected and what was found. The CLI-level twin of the config error tests is
tests/cli/test_cli_errors.py (one subprocess per case of the issue); the finer variations live
in tests/config/ because they are cheap.
"""

from __future__ import annotations

import math

import pytest
from config_cases import assert_error
from support.bad_input import DELETE, mutated

import stress
from stress.config import parse_config

# ---------------------------------------------------------------------------------------------
# Schema errors: unknown keys, types, domains, NaN/inf


@pytest.mark.parametrize(
    ("edits", "fragments"),
    [
        pytest.param(
            [("foo", 1)],
            ["foo: unknown key (allowed: account, exchange, model, modes, name, optimise, "],
            id="unknown-top-level",
        ),
        pytest.param(
            [("model.assets.BTC.volatility", 0.5)],
            ["model.assets.BTC.volatility: unknown key (allowed: drift, price, vol)"],
            id="unknown-asset-field",
        ),
        pytest.param(
            [("simulation.path", 10)],
            ["simulation.path: unknown key (allowed: chunk_paths, horizon_days, importance,"],
            id="unknown-simulation-field",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.mm", 0.1)],
            ["exchange.markets.BTC.tiers[1].mm: unknown key (allowed: maintenance_amount,"],
            id="unknown-tier-field",
        ),
        pytest.param(
            [("positions.1.lev", 3)],
            ["positions[1].lev: unknown key (allowed: asset, entry_price, id, leverage,"],
            id="unknown-position-field",
        ),
        pytest.param(
            [("exchange.funding", {"rate": 0.0001, "interval": 8})],
            ["exchange.funding.interval: unknown key (allowed: cap, interval_hours, rate)"],
            id="unknown-funding-field",
        ),
        pytest.param(
            [("model.assets.BTC.price", "60000")],
            [
                "model.assets.BTC.price: expected a number (write numbers without quotes)",
                "got '60000' (a string)",
            ],
            id="quoted-number",
        ),
        pytest.param(
            [("model.assets.BTC.price", "6e4")],
            ["model.assets.BTC.price: expected a number", "6.0e+4", "got '6e4' (a string)"],
            id="yaml-exponent-read-as-text",
        ),
        pytest.param(
            [("positions.0.leverage", "10x")],
            ["positions[0].leverage: expected a number, got '10x' (a string)"],
            id="text-for-number",
        ),
        pytest.param(
            [("simulation.paths", 1000.0)],
            ["simulation.paths: expected an integer, got 1000.0 (a decimal number)"],
            id="float-paths",
        ),
        pytest.param(
            [("simulation.steps_per_day", 1.5)],
            ["simulation.steps_per_day: expected an integer, got 1.5"],
            id="float-steps",
        ),
        pytest.param([("seed", 1.5)], ["seed: expected an integer, got 1.5"], id="float-seed"),
        pytest.param(
            [("account.wallet", True)],
            ["account.wallet: expected a number, got true (a boolean)"],
            id="boolean-for-number",
        ),
        pytest.param(
            [("model.assets", ["BTC", "ETH"])],
            ["model.assets: expected a mapping (key: value pairs), got ['BTC', 'ETH'] (a list)"],
            id="list-for-assets",
        ),
        pytest.param(
            [("simulation", [64, 1, 24])],
            ["simulation: expected a mapping (key: value pairs), got [64, 1, 24] (a list)"],
            id="list-for-simulation",
        ),
        pytest.param(
            [("model.assets.BTC", None)],
            ["model.assets.BTC: expected a mapping (key: value pairs), got null"],
            id="null-asset",
        ),
        pytest.param(
            [("positions", {"btc": 1})],
            ["positions: expected a list, got {'btc': 1} (a mapping)"],
            id="mapping-for-positions",
        ),
        pytest.param([("name", 5)], ["name: expected a string, got 5 (an integer)"], id="int-name"),
        pytest.param(
            [("name", "my run")],
            ["name: expected only letters, digits, '_', '.' and '-'", "got 'my run'"],
            id="name-with-space",
        ),
        pytest.param(
            [("model.assets", {1: {"price": 1.0, "vol": 0.5}}), ("model.correlation", None)],
            ["model.assets: bad key: expected a string, got 1 (an integer)"],
            id="asset-name-not-a-string",
        ),
        pytest.param(
            [("model.assets.BTC.vol", -0.1)],
            ["model.assets.BTC.vol: expected a number > 0, got -0.1"],
            id="negative-vol",
        ),
        pytest.param(
            [("model.assets.BTC.vol", 0)],
            ["model.assets.BTC.vol: expected a number > 0, got 0"],
            id="zero-vol",
        ),
        pytest.param(
            [("model.assets.ETH.price", 0)],
            ["model.assets.ETH.price: expected a number >= 1e-09, got 0"],
            id="zero-price",
        ),
        pytest.param(
            [("model.assets.ETH.price", -3000)],
            ["model.assets.ETH.price: expected a number >= 1e-09, got -3000"],
            id="negative-price",
        ),
        pytest.param(
            [("account.wallet", 0)],
            ["account.wallet: expected a number > 0, got 0"],
            id="zero-wallet",
        ),
        pytest.param(
            [("account.wallet", -10000)],
            ["account.wallet: expected a number > 0, got -10000"],
            id="negative-wallet",
        ),
        pytest.param(
            [("simulation.paths", 0)],
            ["simulation.paths: expected a number >= 1, got 0"],
            id="zero-paths",
        ),
        pytest.param(
            [("simulation.paths", -5)],
            ["simulation.paths: expected a number >= 1, got -5"],
            id="negative-paths",
        ),
        pytest.param(
            [("simulation.horizon_days", 0)],
            ["simulation.horizon_days: expected a number > 0, got 0"],
            id="zero-horizon",
        ),
        pytest.param([("seed", -1)], ["seed: expected a number >= 0, got -1"], id="negative-seed"),
        pytest.param(
            [("positions.0.leverage", 0)],
            ["positions[0].leverage: expected a number > 0, got 0"],
            id="zero-leverage",
        ),
        pytest.param(
            [("positions.0.notional", -20000)],
            ["positions[0].notional: expected a number > 0, got -20000"],
            id="negative-notional",
        ),
        pytest.param(
            [("exchange.liquidation_fee", 1)],
            ["exchange.liquidation_fee: expected a number < 1, got 1"],
            id="fee-of-100-percent",
        ),
        pytest.param(
            [("model.assets.BTC.vol", math.nan)],
            ["model.assets.BTC.vol: expected a finite number, got nan"],
            id="nan-vol",
        ),
        pytest.param(
            [("model.assets.BTC.drift", math.nan)],
            ["model.assets.BTC.drift: expected a finite number, got nan"],
            id="nan-drift",
        ),
        pytest.param(
            [("model.assets.BTC.price", math.inf)],
            ["model.assets.BTC.price: expected a finite number, got inf"],
            id="inf-price",
        ),
        pytest.param(
            [("model.assets.BTC.drift", -math.inf)],
            ["model.assets.BTC.drift: expected a finite number, got -inf"],
            id="minus-inf-drift",
        ),
        pytest.param(
            [("account.wallet", math.inf)],
            ["account.wallet: expected a finite number, got inf"],
            id="inf-wallet",
        ),
        pytest.param(
            [("model.correlation", [[1.0, math.nan], [math.nan, 1.0]])],
            ["model.correlation[0][1]: expected a finite number, got nan"],
            id="nan-correlation",
        ),
        pytest.param(
            [("model.type", "heston")],
            [
                "model.type: expected 'gbm', 'merton', 'student_t', 'bootstrap', 'replay', "
                "'garch', 'fhs' or 'ewma', got 'heston'"
            ],
            id="unknown-model-type",
        ),
        pytest.param(
            [("positions.0.margin_mode", "portfolio")],
            ["positions[0].margin_mode: expected 'isolated' or 'cross', got 'portfolio'"],
            id="unknown-margin-mode",
        ),
        pytest.param(
            [("positions.0.side", "buy")],
            ["positions[0].side: expected 'long' or 'short', got 'buy'"],
            id="unknown-side",
        ),
        pytest.param(
            [("modes", ["isolated", "hybrid"])],
            ["modes[1]: expected 'isolated', 'cross' or 'as_configured', got 'hybrid'"],
            id="unknown-mode",
        ),
        pytest.param(
            [("modes", "isolated")],
            ["modes: expected a list, got 'isolated' (a string)"],
            id="modes-not-a-list",
        ),
        pytest.param([("modes", [])], ["modes: expected at least 1 item, got []"], id="no-modes"),
        pytest.param(
            [("modes", ["cross", "cross"])],
            ["modes: each mode at most once, got ['cross', 'cross']"],
            id="repeated-mode",
        ),
        pytest.param(
            [("positions", [])], ["positions: expected at least 1 item, got []"], id="no-positions"
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers", [])],
            ["exchange.markets.BTC.tiers: expected at least 1 item, got []"],
            id="no-tiers",
        ),
        pytest.param(
            [("simulation", DELETE)], ["simulation: required field is missing"], id="no-simulation"
        ),
        pytest.param(
            [("account.wallet", DELETE)],
            ["account.wallet: required field is missing"],
            id="no-wallet",
        ),
        pytest.param(
            [("positions", DELETE)],
            ["positions: required field is missing (account is given)"],
            id="account-without-positions",
        ),
        pytest.param(
            [("account", DELETE)],
            ["account: required field is missing (positions need an account)"],
            id="positions-without-account",
        ),
        pytest.param(
            [("account", DELETE), ("positions", DELETE)],
            ["positions: required field is missing (give account + positions, or a portfolios"],
            id="no-book-at-all",
        ),
        pytest.param(
            [("simulation.chunk_paths", 100)],
            ["simulation.chunk_paths: expected a multiple of 256, got 100"],
            id="chunk-not-multiple",
        ),
    ],
)
def test_schema_errors(edits, fragments):
    assert_error(mutated(*edits), *fragments)


def test_several_problems_report_the_first_and_count_the_rest():
    message = assert_error(
        mutated(("model.assets.BTC.vol", -1), ("account.wallet", "lots")),
        "model.assets.BTC.vol: expected a number > 0, got -1",
    )
    assert message.endswith("; and 1 more problem"), message


def test_top_level_must_be_a_mapping():
    with pytest.raises(stress.ConfigError) as info:
        parse_config([1, 2])
    assert str(info.value) == (
        "<config>: (top level): expected a mapping of settings, got [1, 2] (a list)"
    )
