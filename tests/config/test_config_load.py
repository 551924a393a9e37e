"""Config loading that works, in process: stress.load_config, stress.prepare, the example
configs, YAML and TOML, what `load_config` leaves to `prepare`, and the API overrides.

The error cases live beside this file: test_config_schema.py (a field's own type and domain),
test_config_checks.py (rules across fields), test_config_books.py (the whole book, portfolio
lists) and test_config_files.py (reading files: YAML/TOML syntax, duplicate keys).
"""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, error_of, to_toml
from support.bad_input import BASE, DELETE, mutated

import stress
from stress.config import Config

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
# What load_config leaves to prepare


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
