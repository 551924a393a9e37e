"""Hostile and unusual input, in process: every case a `ConfigError` of one line, cheaply.

The CLI twin is tests/cli/test_cli_hostile.py, which runs the cases that would hang or eat the
machine on a regression (billion laughs, 50 MB, /dev/zero, a FIFO) in subprocesses under a
memory limit. The cases here stay small even if a limit regresses.
"""

from __future__ import annotations

import copy
import pickle
import types

import numpy as np
import pytest
import yaml
from conftest import error_of, write
from support.bad_input import BASE

import stress
from stress.config.read import field_path, show
from stress.config.read_limits import MAX_CONFIG_BYTES, MAX_DEPTH, digits_limit, read_config_text
from stress.errors import ConfigError, one_line

DIGITS = digits_limit()


def with_seed(value) -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["seed"] = value
    return cfg


# ---------------------------------------------------------------------------------------------
# One line, whatever the text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("a\tb", "a\\tb"),
        ("a\x00b\x1bc\x7f", "a\\x00b\\x1bc\\x7f"),
        ("a\x85b\u2028c\u2029d", "a\\x85b\\u2028c\\u2029d"),  # NEL and Unicode line breaks
        ("ümlaut ok", "ümlaut ok"),
    ],
)
def test_config_error_is_one_line(raw, shown):
    err = ConfigError(f"f.yaml: {raw}")
    assert str(err) == f"f.yaml: {shown}"
    assert len(str(err).splitlines()) == 1
    assert str(ConfigError(str(err))) == str(err), "escaping twice changes nothing"
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


def test_wrapping_a_config_error_keeps_it_one_line():
    inner = ConfigError("model.assets.A\nB: bad")
    assert str(ConfigError(f"f\r.yaml: {inner}")) == "f\\r.yaml: model.assets.A\\nB: bad"


def test_show_is_bounded_and_one_line():
    assert show("a\nb") == "'a\\nb'"
    assert len(show(list(range(10**6)))) <= 60
    deep: list = []
    deep.append(deep)  # a loop: a plain repr would recurse
    assert show(deep) == "[[[[...]]]]"
    assert show(10**5000) == f"<a number with more than {DIGITS} digits>"
    assert show("x" * 10**7) == "'" + "x" * 56 + "..."
    assert show([1, 2]) == "[1, 2]" and show(None) == "null" and show(True) == "true"


def test_field_path_is_bounded():
    assert field_path(("k" * 1000,)) == "k" * 57 + "..."
    assert field_path(tuple(["a"] * 300)) == "a.a.a.a.a.a....a.a.a.a.a"
    assert field_path(("seed", 10**5000)) == f"seed[<a number with more than {DIGITS} digits>]"


# ---------------------------------------------------------------------------------------------
# YAML


def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"name: *a{levels - 1}", ""])


def test_yaml_alias_bomb(tmp_path):
    path = write(tmp_path, alias_bomb(6))  # 10**6 values in 7 lines
    assert error_of(path) == (
        f"{path}: line 5: too many values: expected at most 100,000 (YAML aliases expanded), "
        "got more"
    )


def test_yaml_aliases_below_the_limit_load(tmp_path):
    """Aliases as people use them (a shared block) are fine."""
    text = "x: &x {price: 1, vol: 0.5}\nname: *x\n"
    assert "name: expected a string" in error_of(write(tmp_path, text))


def test_yaml_alias_loop(tmp_path):
    path = write(tmp_path, "name: x\nseed: &s [1, *s]\n")
    assert error_of(path) == f"{path}: line 2: an alias inside its own anchor (a loop)"


def test_yaml_aliases_nesting_deeper_than_written(tmp_path):
    lines = ["a0: &a0 [1]", *(f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 150)), "name: x"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    message = error_of(path)
    assert message == (
        f"{path}: invalid YAML at line 101: nested deeper than 100 levels (aliases expanded)"
    )


@pytest.mark.parametrize("kind", ["list", "map"])
def test_yaml_depth_limit_is_exact(tmp_path, kind):
    """The top-level mapping is level 1, so `name` may hold 99 more levels, not 100."""

    def nested(levels: int) -> str:
        if kind == "list":
            return "[" * levels + "]" * levels
        return "{a: " * levels + "1" + "}" * levels

    ok = error_of(write(tmp_path, f"name: {nested(MAX_DEPTH - 1)}\n"))
    assert "nested deeper" not in ok and "name: expected a string" in ok
    deep = write(tmp_path, f"name: x\nseed: {nested(MAX_DEPTH)}\n")
    assert error_of(deep) == f"{deep}: invalid YAML at line 2: nested deeper than 100 levels"


def test_yaml_block_nesting(tmp_path):
    text = "".join("  " * i + "a:\n" for i in range(300)) + "  " * 300 + "1\n"
    assert "invalid YAML at line 101: nested deeper than 100 levels" in error_of(
        write(tmp_path, text)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seed: " + "9" * 5000, f"line 1: a number with more than {DIGITS} digits"),
        ("? " + "9" * 5000 + "\n: 1", f"line 1: a number with more than {DIGITS} digits"),
        ("seed: 0x" + "f" * 5000, f"seed: a number with more than {DIGITS} digits"),
        ("name: x\nd: 2020-02-30", "line 2: cannot read '2020-02-30': day is out of range"),
    ],
    ids=["decimal", "key", "hex", "date"],
)
def test_yaml_values_python_cannot_build(tmp_path, text, expected):
    path = write(tmp_path, text + "\n")
    assert error_of(path).startswith(f"{path}: {expected}")


# ---------------------------------------------------------------------------------------------
# TOML


def test_toml_deep_arrays_and_tables(tmp_path):
    for value in ("[" * 3000 + "]" * 3000, "{a = " * 3000 + "1" + "}" * 3000):
        path = write(tmp_path, f'name = "x"\ns = "[[[[{{{{"  # [[[[\nseed = {value}\n', "c.toml")
        assert error_of(path) == f"{path}: invalid TOML at line 3: nested deeper than 100 levels"


def test_toml_nesting_python_parses_is_limited_too(tmp_path):
    path = write(tmp_path, 'name = "x"\nseed = ' + "[" * 150 + "]" * 150 + "\n", "c.toml")
    assert error_of(path) == (
        f"{path}: seed[0][0][0][0][0]...[0][0][0][0][0]: nested deeper than 100 levels"
    )
    dotted = write(tmp_path, ".".join(["a"] * 3000) + " = 1\n", "d.toml")
    assert "a.a.a.a.a.a....a.a.a.a.a: nested deeper than 100 levels" in error_of(dotted)


def test_toml_long_integer(tmp_path):
    path = write(tmp_path, 'name = "x"\n# 1_000\nseed = ' + "9_" * 4400 + "9\n", "c.toml")
    assert error_of(path) == f"{path}: line 3: a number with more than {DIGITS} digits"


# ---------------------------------------------------------------------------------------------
# The file itself


def test_size_limit_is_exact(tmp_path):
    path = write(tmp_path, "#" * MAX_CONFIG_BYTES)
    assert len(read_config_text(path)) == MAX_CONFIG_BYTES
    path.write_text("#" * (MAX_CONFIG_BYTES + 1), encoding="utf-8")
    assert error_of(path) == (f"{path}: too large: expected at most 5,000,000 bytes, got 5,000,001")


def test_folder_and_bad_encoding(tmp_path):
    assert error_of(tmp_path) == f"{tmp_path}: cannot read: expected a regular file, got a folder"
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: \xff\n")
    assert error_of(path).startswith(f"{path}: cannot read: 'utf-8' codec can't decode")
    assert error_of("nul\x00.yaml") == "nul\\x00.yaml: cannot read: embedded null byte"


def test_line_endings_read_as_before(tmp_path):
    """CRLF and lone CR read as newlines, as text mode read them (TOML refuses a lone CR)."""
    text = yaml.safe_dump(BASE, sort_keys=False).replace("\n", "\r\n").replace("\r\n", "\r", 1)
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode("utf-8"))
    assert stress.load_config(path) == stress.load_config(copy.deepcopy(BASE))
    toml = tmp_path / "c.toml"
    toml.write_bytes(b'name = "x"\rseed = 1\r\ncolour = 1\r\n')
    assert error_of(toml).startswith(f"{toml}: simulation: required field is missing")


def test_file_name_with_a_newline(tmp_path):
    path = write(tmp_path, yaml.safe_dump({**BASE, "colour": "red"}), "a\nerror: forged.yaml")
    assert error_of(path).startswith(f"{one_line(str(path))}: colour: unknown key")


# ---------------------------------------------------------------------------------------------
# Mappings given in Python


def test_dict_depth_loops_and_size():
    deep: dict = {"name": "x"}
    node = deep
    for _ in range(3000):
        node["a"] = node = {}
    assert error_of(deep) == "<config>: a.a.a.a.a.a....a.a.a.a.a: nested deeper than 100 levels"
    loop = copy.deepcopy(BASE)
    loop["seed"] = [loop]
    assert error_of(loop).endswith(": nested deeper than 100 levels")
    huge = with_seed(list(range(10**6)))
    assert error_of(huge) == (
        "<config>: seed[99997]: too many values: expected at most 100,000 in a config, got more"
    )
    assert error_of(with_seed(np.zeros((10**4, 10**4), dtype=np.int8))).endswith("got more")


def test_dict_long_integer():
    assert error_of(with_seed(10**5000)) == (
        f"<config>: seed: a number with more than {DIGITS} digits"
    )


def test_tuples_numpy_and_mappings_are_accepted():
    cfg = copy.deepcopy(BASE)
    cfg["model"]["correlation"] = np.array([[1.0, 0.8], [0.8, 1.0]])
    cfg["modes"] = ("isolated", "cross")
    cfg["positions"] = tuple(cfg["positions"])
    cfg["seed"] = np.int64(5)
    cfg["simulation"]["paths"] = np.uint16(64)
    cfg["model"]["assets"]["BTC"] = types.MappingProxyType({"price": np.float32(60000), "vol": 0.6})
    cfg["positions"][0]["side"] = np.str_("long")
    modes = cfg["modes"]
    loaded = stress.load_config(cfg)
    assert loaded.model.correlation == [[1.0, 0.8], [0.8, 1.0]]
    assert loaded.modes == ["isolated", "cross"] and loaded.seed == 5
    assert type(loaded.seed) is int and type(loaded.simulation.paths) is int
    assert loaded.model.assets["BTC"].price == 60000.0
    assert loaded == stress.load_config(
        copy.deepcopy(BASE) | {"modes": ["isolated", "cross"], "seed": 5}
    )
    assert isinstance(cfg["positions"], tuple) and cfg["modes"] is modes, "not modified"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", "seed: expected an integer (write numbers without quotes), got '5' (a string)"),
        (np.str_("5"), "seed: expected an integer (write numbers without quotes), got '5'"),
        (np.bool_(True), "seed: expected an integer, got true (a boolean)"),
        (5.0, "seed: expected an integer, got 5.0 (a decimal number)"),
        (np.float64(5.0), "seed: expected an integer, got 5.0 (a decimal number)"),
        ({1, 2}, "seed: expected an integer"),
    ],
)
def test_still_strict(value, expected):
    assert expected in error_of(with_seed(value))


# ---------------------------------------------------------------------------------------------
# The Python API's arguments


@pytest.mark.parametrize("source", [None, 5, b"c.yaml", ["c.yaml"]])
def test_load_config_refuses_what_is_not_a_config(source):
    assert error_of(source) == (
        f"expected a config file path, a mapping or a Config, got {source!r}"
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"chunk_paths": 100}, "chunk_paths: expected a multiple of 256 >= 256, got 100"),
        ({"chunk_paths": 0}, "chunk_paths: expected a multiple of 256 >= 256, got 0"),
        ({"chunk_paths": 512.0}, "chunk_paths: expected a multiple of 256 >= 256, got 512.0"),
        ({"chunk_paths": True}, "chunk_paths: expected a multiple of 256 >= 256, got True"),
        (
            {"paths": np.float64(50)},
            "paths: expected an integer from 1 to 1,000,000,000, got np.float64(50.0)",
        ),
        (
            {"paths": np.bool_(True)},
            "paths: expected an integer from 1 to 1,000,000,000, got np.True_",
        ),
        ({"seed": np.int64(-1)}, "seed: expected an integer >= 0, got np.int64(-1)"),
    ],
)
def test_run_arguments_are_config_errors(kwargs, expected):
    with pytest.raises(ConfigError) as info:
        stress.run(copy.deepcopy(BASE), **kwargs)
    assert str(info.value) == expected


def test_run_accepts_numpy_integers():
    result = stress.run(
        copy.deepcopy(BASE), paths=np.int64(50), seed=np.int32(3), chunk_paths=np.uint64(256)
    )
    assert (result.paths, result.seed) == (50, 3)
    assert type(result.paths) is int and type(result.seed) is int
    paths = stress.generate_paths(copy.deepcopy(BASE), paths=np.int64(50), seed=np.int64(3))
    assert paths.shape[0] == 50
