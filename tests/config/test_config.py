"""Config loading and validation, in process (stress.config, stress.config.checks, and
stress.prepare for what needs other files or the whole book).

Every bad input must raise `stress.ConfigError` with one line that names the source, the field
path, what was expected and what was found. `stress.load_config` checks the config's own
fields; `stress.prepare` reads history files and checks markets, portfolios and sweeps. The
CLI-level twin of this file is tests/cli/test_cli_errors.py (one subprocess per case of the issue);
the finer variations live here because they are cheap.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, base_yaml, error_of, to_toml, write
from support.bad_input import BASE, DELETE, mutated

import stress
from stress.config import Config, parse_config

SOL = {"price": 150, "vol": 1.0}


def as_portfolios(second_position_edits: dict | None = None) -> dict:
    """BASE rewritten as a two-portfolio list; edits go to portfolios[1].positions[0]."""
    cfg = copy.deepcopy(BASE)
    account, positions = cfg.pop("account"), cfg.pop("positions")
    other = copy.deepcopy(positions)
    other[0].update(second_position_edits or {})
    cfg["portfolios"] = [
        {"name": "main", "account": account, "positions": positions},
        {"name": "other", "account": copy.deepcopy(account), "positions": other},
    ]
    return cfg


def assert_error(source, *fragments: str, prefix: str = "<config>: ", prepare: bool = False) -> str:
    message = error_of(source, prepare=prepare)
    assert message.startswith(prefix), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# ---------------------------------------------------------------------------------------------
# The good cases


def test_base_config_is_valid():
    cfg = stress.load_config(copy.deepcopy(BASE))
    assert isinstance(cfg, Config)
    assert [p.id for p in cfg.positions] == ["btc-long", "eth-short"]
    stress.prepare(cfg)  # and its book can be opened


def test_load_config_does_not_modify_the_dict():
    data = copy.deepcopy(BASE)
    stress.load_config(data)
    assert data == BASE


def test_config_error_is_a_value_error():
    assert issubclass(stress.ConfigError, ValueError)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*")))
def test_example_configs_are_valid(name):
    stress.prepare(ROOT / "configs" / name)


def test_yaml_and_toml_files_load_to_the_same_config(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    (tmp_path / "c.toml").write_text(to_toml(BASE), encoding="utf-8")
    from_yaml = stress.load_config(tmp_path / "c.yaml")
    from_toml = stress.load_config(str(tmp_path / "c.toml"))
    assert from_yaml == from_toml == stress.load_config(copy.deepcopy(BASE))


def test_leverage_at_the_tier_limits_is_accepted():
    # exactly at a tier's cap the tier's own limit applies (Binance: notional <= cap)
    stress.prepare(mutated(("positions.0.notional", 50000), ("positions.0.leverage", 125)))
    stress.prepare(mutated(("positions.0.notional", 200000), ("positions.0.leverage", 100)))


def test_yaml_anchors_and_merge_keys_are_not_duplicates(tmp_path):
    # the merge key `<<` may be overridden by an explicit key; that is not a duplicate
    text = (
        yaml.safe_dump(mutated(("model", DELETE)), sort_keys=False)
        + "model:\n  type: gbm\n  correlation: [[1.0, 0.8], [0.8, 1.0]]\n  assets:\n"
        + "    BTC: &coin {price: 60000, vol: 0.6}\n"
        + "    ETH: {<<: *coin, price: 3000}\n"
    )
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    cfg = stress.load_config(path)
    assert cfg.model.assets["ETH"].price == 3000 and cfg.model.assets["ETH"].vol == 0.6


# ---------------------------------------------------------------------------------------------
# Schema errors: unknown keys, types, domains, NaN/inf


@pytest.mark.parametrize(
    ("edits", "fragments"),
    [
        pytest.param(
            [("foo", 1)],
            ["foo: unknown key (allowed: account, exchange, model, modes, name, portfolios"],
            id="unknown-top-level",
        ),
        pytest.param(
            [("model.assets.BTC.volatility", 0.5)],
            ["model.assets.BTC.volatility: unknown key (allowed: drift, price, vol)"],
            id="unknown-asset-field",
        ),
        pytest.param(
            [("simulation.path", 10)],
            ["simulation.path: unknown key (allowed: chunk_paths, horizon_days, paths,"],
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
            ["exchange.funding.interval: unknown key (allowed: interval_hours, rate)"],
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
                "model.type: expected 'gbm', 'merton', 'student_t', 'bootstrap' or 'replay', "
                "got 'heston'"
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


# ---------------------------------------------------------------------------------------------
# Cross-field rules (stress.config.checks)


@pytest.mark.parametrize(
    ("edits", "fragments"),
    [
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.8, 1.0], [0.0, 0.0]])],
            ["model.correlation: expected a square 2x2 matrix", "got 3 rows of length 2, 2, 2"],
            id="correlation-too-many-rows",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.8]])],
            ["model.correlation: expected a square 2x2 matrix", "got 2 rows of length 2, 1"],
            id="correlation-ragged",
        ),
        pytest.param(
            [("model.correlation", [[1.0]])],
            ["model.correlation: expected a square 2x2 matrix", "got 1 row of length 1"],
            id="correlation-too-small",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.7, 1.0]])],
            [
                "model.correlation[0][1]: expected a symmetric matrix",
                "got [0][1] = 0.8 and [1][0] = 0.7",
            ],
            id="correlation-not-symmetric",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.8, 0.9]])],
            ["model.correlation[1][1]: diagonal must be 1, got 0.9"],
            id="correlation-diagonal",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 1.2], [1.2, 1.0]])],
            ["model.correlation[0][1]: must be in [-1, 1], got 1.2"],
            id="correlation-above-one",
        ),
        pytest.param(
            [
                ("model.assets.SOL", SOL),
                ("model.correlation", [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]),
            ],
            [
                "model.correlation: expected a positive semi-definite matrix",
                "got smallest eigenvalue -0.8",
            ],
            id="correlation-not-psd",
        ),
        pytest.param(
            [("model.correlation", None)],
            ["model.correlation: required for 2 assets: a 2x2 matrix in the order BTC, ETH"],
            id="correlation-missing",
        ),
        pytest.param(
            [("model.type", "merton")],
            ["model.jumps: required for model type merton", "got none"],
            id="merton-without-jumps",
        ),
        pytest.param(
            [("model.jumps", {"intensity": 6.0, "mean": -0.04, "std": 0.06})],
            ["model.jumps: only used by model type merton, got type gbm"],
            id="jumps-without-merton",
        ),
        pytest.param(
            [("model.type", "merton"), ("model.jumps", {"intensity": 6, "mean": 0, "std": -0.1})],
            ["model.jumps.std: expected a number >= 0, got -0.1"],
            id="negative-jump-std",
        ),
        pytest.param(
            [("model.type", "student_t")],
            ["model.dof: required for model type student_t: expected a number > 2, got none"],
            id="student-t-without-dof",
        ),
        pytest.param(
            [("model.type", "student_t"), ("model.dof", 2)],
            ["model.dof: expected a number > 2, got 2"],
            id="student-t-dof-2",
        ),
        pytest.param(
            [("model.type", "student_t"), ("model.dof", 1.5)],
            ["model.dof: expected a number > 2, got 1.5"],
            id="student-t-dof-1.5",
        ),
        pytest.param(
            [("model.dof", 4.0)],
            ["model.dof: only used by model type student_t, got type gbm"],
            id="dof-without-student-t",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.max_notional", 40000)],
            [
                "exchange.markets.BTC.tiers[1].max_notional: tiers must increase",
                "expected > 50,000, got 40,000",
            ],
            id="tiers-decreasing",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.max_notional", 50000)],
            ["exchange.markets.BTC.tiers[1].max_notional: tiers must increase"],
            id="tiers-repeated",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.max_leverage", 150)],
            ["exchange.markets.BTC.tiers[1].max_leverage: tiers must not raise leverage"],
            id="tiers-raise-leverage",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.mmr", 0.003)],
            ["exchange.markets.BTC.tiers[1].mmr: tiers must not lower the rate"],
            id="tiers-lower-mmr",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.0.mmr", 0.01)],
            ["exchange.markets.BTC.tiers[0].mmr: must be below the initial margin rate", "0.01"],
            id="mmr-above-initial-margin-rate",
        ),
    ],
)
def test_cross_field_errors(edits, fragments):
    assert_error(mutated(*edits), *fragments)


# ---------------------------------------------------------------------------------------------
# Whole-book rules (stress.prepare: markets, positions, tiers, margins, the wallet)


@pytest.mark.parametrize(
    ("edits", "fragments"),
    [
        pytest.param(
            [("positions.1.asset", "DOGE")],
            ["positions[1].asset: expected an asset of model.assets (BTC, ETH), got 'DOGE'"],
            id="unknown-asset",
        ),
        pytest.param(
            [("positions.0.quantity", 0.3)],
            ["positions[0]: give exactly one of notional or quantity, got both"],
            id="notional-and-quantity",
        ),
        pytest.param(
            [("positions.0.notional", DELETE)],
            ["positions[0]: give exactly one of notional or quantity, got neither"],
            id="neither-notional-nor-quantity",
        ),
        pytest.param(
            [("positions.0.leverage", 130)],
            ["positions[0].leverage: must be <= 125 for BTC notional 20,000 (tier 1), got 130"],
            id="leverage-above-tier-1",
        ),
        pytest.param(
            [("positions.0.notional", 200000), ("positions.0.leverage", 120)],
            ["positions[0].leverage: must be <= 100 for BTC notional 200,000 (tier 2), got 120"],
            id="leverage-above-tier-2",
        ),
        pytest.param(
            [("positions.0.notional", 50001), ("positions.0.leverage", 125)],
            ["positions[0].leverage: must be <= 100 for BTC notional 50,001 (tier 2), got 125"],
            id="leverage-just-past-tier-1",
        ),
        pytest.param(
            # 4 BTC at an entry of 70,000 is 280,000: tier 3 (50x), not tier 2 at the mark
            [
                ("positions.0.notional", DELETE),
                ("positions.0.quantity", 4),
                ("positions.0.entry_price", 70000),
                ("positions.0.leverage", 60),
            ],
            ["positions[0].leverage: must be <= 50 for BTC notional 280,000 (tier 3), got 60"],
            id="leverage-tier-from-quantity-at-entry",
        ),
        pytest.param(
            [("positions.1.leverage", 126)],
            ["positions[1].leverage: must be <= 125 for ETH notional 20,000 (tier 1), got 126"],
            id="leverage-above-default-market",
        ),
        pytest.param(
            [("positions.0.notional", 2_000_000), ("positions.0.leverage", 1)],
            [
                "positions[0].notional: expected a notional <= 1,000,000 (the largest BTC tier)",
                "got 2,000,000",
            ],
            id="notional-above-largest-tier",
        ),
        pytest.param(
            [("positions.1.margin", 100)],
            [
                "positions[1].margin: must be >= the initial margin 2,000",
                "(notional 20,000 / leverage 10), got 100",
            ],
            id="margin-below-initial-margin",
        ),
        pytest.param(
            [("positions.1.margin", 20000)],
            [
                "account.wallet: must cover the isolated margins of all positions (mode isolated)",
                "expected >= 22,000, got 10,000",
            ],
            id="isolated-margins-above-wallet",
        ),
        pytest.param(
            [("positions.1.margin", 20000), ("modes", ["as_configured"])],
            [
                "account.wallet: must cover the isolated margins (as_configured)",
                "expected >= 20,000, got 10,000",
            ],
            id="isolated-margins-above-wallet-as-configured",
        ),
        pytest.param(
            [("account.wallet", 3000), ("modes", ["cross"])],
            [
                "account.wallet: must cover the initial margin of all positions (mode cross)",
                "expected >= 4,000, got 3,000",
            ],
            id="initial-margin-above-wallet-cross",
        ),
        pytest.param(
            [("positions.1.id", "btc-long")],
            ["positions[1].id: duplicate id 'btc-long' (also positions[0])"],
            id="duplicate-position-id",
        ),
        pytest.param(
            [
                (
                    "exchange.markets.SOL",
                    {"tiers": [{"max_notional": 1e6, "max_leverage": 20, "mmr": 0.01}]},
                )
            ],
            ["exchange.markets.SOL: expected an asset of model.assets (BTC, ETH), got 'SOL'"],
            id="market-for-unknown-asset",
        ),
    ],
)
def test_book_errors(edits, fragments):
    cfg = mutated(*edits)
    stress.load_config(cfg)  # fields only: the book is checked by prepare
    assert_error(cfg, *fragments, prepare=True)


def test_load_config_checks_fields_only_and_prepare_the_rest():
    """A missing history file and an infeasible leverage pass `load_config` (it reads one file
    and checks its fields), and `prepare` refuses both, the history first."""
    data = ROOT / "data"
    history = [
        str(data / "no_such_BTCUSDT_1h.csv.gz"),
        str(data / "binance_spot_ETHUSDT_1h.csv.gz"),
    ]
    model = {
        "type": "bootstrap",
        "history": history,
        "assets": {"BTC": {"price": 60000}, "ETH": {"price": 3000}},
    }
    cfg = mutated(("model", model), ("positions.0.leverage", 130))
    assert isinstance(stress.load_config(cfg), Config)
    assert error_of(cfg, prepare=True) == f"<config>: model.history[0]: no such file: {history[0]}"
    cfg["model"]["history"][0] = str(data / "binance_spot_BTCUSDT_1h.csv.gz")
    assert error_of(cfg, prepare=True) == (
        "<config>: positions[0].leverage: must be <= 125 for BTC notional 20,000 (tier 1), got 130"
    )


def test_loading_a_parametric_config_does_not_import_scipy():
    code = (
        "import sys, stress; stress.load_config('configs/btc_eth_hedge.yaml'); "
        "print('scipy' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# Portfolio lists: the path names the portfolio


def test_portfolios_base_is_valid():
    plan = stress.prepare(as_portfolios())
    assert [p.name for p in plan.portfolios] == ["main", "other"]
    assert plan.sweep is None


@pytest.mark.parametrize(
    ("edits", "fragments", "prepare"),
    [
        pytest.param(
            {"leverage": 130},
            ["portfolios[1].positions[0].leverage: must be <= 125 for BTC notional 20,000"],
            True,
            id="leverage",
        ),
        pytest.param(
            {"leverage": "x"},
            ["portfolios[1].positions[0].leverage: expected a number, got 'x' (a string)"],
            False,
            id="type",
        ),
        pytest.param(
            {"asset": "DOGE"},
            ["portfolios[1].positions[0].asset: expected an asset of model.assets"],
            True,
            id="asset",
        ),
        pytest.param(
            {"margin_mode": "isolated", "margin": 50000},
            ["portfolios[1].account.wallet: must cover the isolated margins"],
            True,
            id="wallet",
        ),
        pytest.param(
            {"volatility": 1},
            ["portfolios[1].positions[0].volatility: unknown key"],
            False,
            id="unknown",
        ),
    ],
)
def test_portfolio_errors_name_the_portfolio(edits, fragments, prepare):
    cfg = as_portfolios(edits)
    if prepare:
        stress.load_config(cfg)  # fields only: the book is checked by prepare
    assert_error(cfg, *fragments, prepare=prepare)


def test_portfolio_names_must_differ():
    cfg = as_portfolios()
    cfg["portfolios"][1]["name"] = "main"
    assert_error(cfg, "portfolios[1].name: duplicate portfolio name 'main'", prepare=True)


def test_portfolios_and_account_do_not_mix():
    cfg = as_portfolios()
    cfg["account"] = {"wallet": 1000}
    cfg["positions"] = copy.deepcopy(BASE["positions"])
    assert_error(cfg, "portfolios: expected either account + positions or a portfolios list")


# ---------------------------------------------------------------------------------------------
# Files: reading, YAML/TOML syntax, duplicate keys. The source in the message is the path.


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert error_of(path) == f"{path}: no such file"


def test_directory_instead_of_file(tmp_path):
    assert_error(tmp_path, "cannot read", prefix=f"{tmp_path}: ")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    assert (
        error_of(path) == f"{path}: (top level): expected a mapping of settings, got an empty file"
    )


def test_yaml_list_at_top_level(tmp_path):
    path = write(tmp_path, "- name: x\n- seed: 1\n")
    assert_error(path, "(top level): expected a mapping of settings", prefix=f"{path}: ")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param(
            "name: x\nseed: [1\n", ["invalid YAML at line 3", "expected ',' or ']'"], id="flow"
        ),
        pytest.param("name: x\n\tseed: 1\n", ["invalid YAML at line 2", "'\\t'"], id="tab"),
        pytest.param(
            "name: x\nseed: 1\n---\nname: y\n",
            ["invalid YAML at line 3: expected a single document in the stream"],
            id="two-documents",
        ),
        pytest.param("name: 'x\n", ["invalid YAML"], id="open-quote"),
    ],
)
def test_yaml_syntax_errors(tmp_path, text, fragments):
    assert_error(write(tmp_path, text), *fragments, prefix=f"{tmp_path / 'c.yaml'}: ")


def test_duplicate_top_level_key(tmp_path):
    text = base_yaml().replace("seed: 1\n", "seed: 1\nseed: 2\n")
    path = write(tmp_path, text)
    line = text.splitlines().index("seed: 2") + 1
    assert error_of(path) == (
        f"{path}: seed: duplicate key: expected each key once, "
        f"got it on lines {line - 1} and {line}"
    )


def test_duplicate_key_in_a_flow_mapping(tmp_path):
    text = base_yaml().replace("leverage: 10,", "leverage: 10, leverage: 20,", 1)
    assert "leverage: 10, leverage: 20" in text
    assert_error(
        write(tmp_path, text),
        "positions[0].leverage: duplicate key: expected each key once, got it twice on line",
        prefix=f"{tmp_path / 'c.yaml'}: ",
    )


def test_duplicate_nested_key(tmp_path):
    text = "name: x\nsimulation:\n  paths: 10\n  horizon_days: 1\n  paths: 20\n"
    assert_error(
        write(tmp_path, text),
        "simulation.paths: duplicate key: expected each key once, got it on lines 3 and 5",
        prefix=f"{tmp_path / 'c.yaml'}: ",
    )


def test_yaml_nan_and_inf_spellings(tmp_path):
    for spelling, shown in [(".nan", "nan"), (".NaN", "nan"), (".inf", "inf"), ("-.inf", "-inf")]:
        text = base_yaml().replace("vol: 0.6", f"vol: {spelling}", 1)
        assert f"vol: {spelling}" in text
        assert_error(
            write(tmp_path, text),
            f"model.assets.BTC.vol: expected a finite number, got {shown}",
            prefix=f"{tmp_path / 'c.yaml'}: ",
        )


def test_yaml_yes_is_a_boolean_not_a_number(tmp_path):
    text = base_yaml().replace("wallet: 10000", "wallet: yes")
    assert_error(
        write(tmp_path, text),
        "account.wallet: expected a number, got true (a boolean)",
        prefix=f"{tmp_path / 'c.yaml'}: ",
    )


# TOML (conftest.to_toml writes it: inline tables keep the emitter tiny)
@pytest.mark.parametrize(
    ("edits", "fragments", "prepare"),
    [
        pytest.param(
            [("model.assets.BTC.price", "60000")],
            ["model.assets.BTC.price: expected a number", "got '60000' (a string)"],
            False,
            id="string-for-number",
        ),
        pytest.param(
            [("model.assets.BTC.vol", math.nan)],
            ["model.assets.BTC.vol: expected a finite number, got nan"],
            False,
            id="nan",
        ),
        pytest.param(
            [("account.wallet", math.inf)],
            ["account.wallet: expected a finite number, got inf"],
            False,
            id="inf",
        ),
        pytest.param(
            [("positions.0.leverage", 130)],
            ["positions[0].leverage: must be <= 125 for BTC notional 20,000 (tier 1), got 130"],
            True,
            id="leverage",
        ),
        pytest.param(
            [("model.assets.BTC.volatility", 0.6)],
            ["model.assets.BTC.volatility: unknown key"],
            False,
            id="unknown-key",
        ),
    ],
)
def test_toml_errors(tmp_path, edits, fragments, prepare):
    path = write(tmp_path, to_toml(mutated(*edits)), "c.toml")
    assert_error(path, *fragments, prefix=f"{path}: ", prepare=prepare)


def test_toml_syntax_error(tmp_path):
    path = write(tmp_path, 'name = "x"\nseed = \n', "c.toml")
    assert_error(path, "invalid TOML", "line 2", prefix=f"{path}: ")


def test_toml_duplicate_key(tmp_path):
    path = write(tmp_path, 'name = "x"\nname = "y"\n', "c.toml")
    assert_error(path, "invalid TOML", "line 2", prefix=f"{path}: ")


# ---------------------------------------------------------------------------------------------
# API overrides (validated in stress.run before any simulation)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"paths": 0}, "paths: expected an integer from 1 to 1,000,000,000, got 0"),
        ({"paths": 2.5}, "paths: expected an integer from 1 to 1,000,000,000, got 2.5"),
        ({"paths": True}, "paths: expected an integer from 1 to 1,000,000,000, got True"),
        ({"seed": -1}, "seed: expected an integer >= 0, got -1"),
    ],
)
def test_api_overrides(kwargs, fragment):
    with pytest.raises(stress.ConfigError, match=fragment.replace("[", r"\[")):
        stress.generate_paths(copy.deepcopy(BASE), **kwargs)
