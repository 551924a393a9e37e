"""Config files, in process: reading, YAML/TOML syntax, duplicate keys, YAML's and TOML's
spellings of numbers. The source in the message is the path.
"""

from __future__ import annotations

import math

import pytest
from config_cases import assert_error
from conftest import base_yaml, error_of, to_toml, write
from support.bad_input import mutated

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
