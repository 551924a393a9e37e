"""Every bad-input case of the issue, through the CLI: exit 2, one line, nothing written.

Each case writes a config (a small valid base, mutated) into its own folder and runs
``python -m stress run CONFIG --out <folder>/out`` as a subprocess. The line on stderr must name
the file (or the option), the field path, what was expected and what was found; the output
folder must not exist afterwards. Finer variations of each rule are tested in process in
tests/config/ (schema, checks, books); here there is one case per item of the issue, because every
subprocess pays for importing numpy, scipy, numba and pandas. The cases run concurrently, once
per module; the quick loop (`-m "not slow"`) runs a few of them, one of each kind.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import base_yaml, case_params, run_stress_many, selected_cases, to_toml, write
from support.bad_input import BASE, DELETE, mutated


def portfolios_with_bad_leverage() -> dict:
    cfg = copy.deepcopy(BASE)
    account, positions = cfg.pop("account"), cfg.pop("positions")
    other = copy.deepcopy(positions)
    other[0]["leverage"] = 130  # BTC 20,000: tier 1, at most 125x
    cfg["portfolios"] = [
        {"name": "main", "account": account, "positions": positions},
        {"name": "other", "account": copy.deepcopy(account), "positions": other},
    ]
    return cfg


def yaml_with(old: str, new: str) -> str:
    """The base YAML with one textual edit (for spellings a dict cannot express)."""
    text = base_yaml()
    assert old in text, old
    return text.replace(old, new, 1)


@dataclass(frozen=True)
class Case:
    id: str
    config: dict | str | None  # a dict is dumped as YAML/TOML; a str is the file's text
    expect: tuple[str, ...]  # fragments of the message: field path, expected, found
    fmt: str = "yaml"
    args: tuple[str, ...] = ()
    command: str = "run"
    exit_code: int = 2
    names_file: bool = True  # option errors name the option instead
    out_is_file: bool = False  # --out points at an existing regular file
    extra: dict = field(default_factory=dict, compare=False)


CASES = [
    # unknown keys
    Case(
        "unknown-key-top-level",
        mutated(("colour", "red")),
        ("colour: unknown key (allowed: account, exchange, model, modes, name",),
    ),
    Case(
        "unknown-key-nested",
        mutated(("model.assets.BTC.volatility", 0.65)),
        ("model.assets.BTC.volatility: unknown key (allowed: drift, price, vol)",),
    ),
    # wrong types
    Case(
        "string-for-number",
        mutated(("model.assets.BTC.price", "60000")),
        ("model.assets.BTC.price: expected a number", "got '60000' (a string)"),
        fmt="toml",
    ),
    Case(
        "float-for-paths",
        mutated(("simulation.paths", 1000.0)),
        ("simulation.paths: expected an integer, got 1000.0",),
    ),
    Case(
        "list-for-mapping",
        mutated(("model.assets", ["BTC", "ETH"])),
        ("model.assets: expected a mapping", "got ['BTC', 'ETH'] (a list)"),
    ),
    # negative or zero
    Case(
        "negative-vol",
        mutated(("model.assets.BTC.vol", -0.65)),
        ("model.assets.BTC.vol: expected a number > 0, got -0.65",),
        fmt="toml",
    ),
    Case(
        "zero-price",
        mutated(("model.assets.ETH.price", 0)),
        ("model.assets.ETH.price: expected a number >= 1e-09, got 0",),
    ),
    Case(
        "negative-wallet",
        mutated(("account.wallet", -10000)),
        ("account.wallet: expected a number > 0, got -10000",),
    ),
    Case(
        "zero-paths",
        mutated(("simulation.paths", 0)),
        ("simulation.paths: expected a number >= 1, got 0",),
    ),
    # NaN and inf, as YAML spells them
    Case(
        "nan",
        yaml_with("vol: 0.6", "vol: .nan"),
        ("model.assets.BTC.vol: expected a finite number, got nan",),
    ),
    Case(
        "inf",
        yaml_with("price: 3000", "price: .inf"),
        ("model.assets.ETH.price: expected a finite number, got inf",),
    ),
    # correlation
    Case(
        "correlation-not-square",
        mutated(("model.correlation", [[1.0, 0.8, 0.5], [0.8, 1.0, 0.5]])),
        ("model.correlation: expected a square 2x2 matrix", "got 2 rows of length 3, 3"),
    ),
    Case(
        "correlation-not-symmetric",
        mutated(("model.correlation", [[1.0, 0.8], [0.6, 1.0]])),
        (
            "model.correlation[0][1]: expected a symmetric matrix",
            "got [0][1] = 0.8 and [1][0] = 0.6",
        ),
    ),
    Case(
        "correlation-diagonal",
        mutated(("model.correlation", [[1.0, 0.8], [0.8, 0.5]])),
        ("model.correlation[1][1]: diagonal must be 1, got 0.5",),
    ),
    Case(
        "correlation-not-psd",
        mutated(
            ("model.assets.SOL", {"price": 150, "vol": 1.1}),
            ("model.correlation", [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]),
        ),
        ("model.correlation: expected a positive semi-definite matrix", "smallest eigenvalue -0.8"),
    ),
    # positions
    Case(
        "unknown-asset",
        mutated(("positions.1.asset", "DOGE")),
        ("positions[1].asset: expected an asset of model.assets (BTC, ETH), got 'DOGE'",),
    ),
    Case(
        "notional-and-quantity",
        mutated(("positions.0.quantity", 0.3)),
        ("positions[0]: give exactly one of notional or quantity, got both",),
    ),
    Case(
        "neither-notional-nor-quantity",
        mutated(("positions.1.notional", DELETE)),
        ("positions[1]: give exactly one of notional or quantity, got neither",),
    ),
    Case(
        "leverage-above-tier",
        mutated(("positions.0.leverage", 130)),
        ("positions[0].leverage: must be <= 125 for BTC notional 20,000 (tier 1), got 130",),
    ),
    Case(
        "leverage-above-larger-tier",
        mutated(("positions.0.notional", 200000), ("positions.0.leverage", 120)),
        ("positions[0].leverage: must be <= 100 for BTC notional 200,000 (tier 2), got 120",),
    ),
    Case(
        "isolated-margins-above-wallet",
        mutated(("positions.1.margin", 9000), ("positions.0.margin_mode", "isolated")),
        (
            "account.wallet: must cover the isolated margins",
            "expected >= 11,000, got 10,000",
        ),
    ),
    Case(
        "tiers-not-increasing",
        mutated(("exchange.markets.BTC.tiers.2.max_notional", 200000)),
        (
            "exchange.markets.BTC.tiers[2].max_notional: tiers must increase",
            "expected > 250,000, got 200,000",
        ),
        fmt="toml",
    ),
    # the file itself
    Case("missing-file", None, ("no such file",)),
    Case("invalid-yaml", "name: x\nseed: [1\n", ("invalid YAML at line 3", "expected ',' or ']'")),
    Case("empty-file", "", ("(top level): expected a mapping of settings, got an empty file",)),
    Case(
        "duplicate-key",
        yaml_with("seed: 1\n", "seed: 1\nseed: 2\n"),
        ("seed: duplicate key: expected each key once, got it on lines 2 and 3",),
    ),
    # model
    Case(
        "merton-without-jumps",
        mutated(("model.type", "merton")),
        ("model.jumps: required for model type merton", "got none"),
    ),
    Case(
        "student-t-dof-2",
        mutated(("model.type", "student_t"), ("model.dof", 2.0)),
        ("model.dof: expected a number > 2, got 2",),
    ),
    Case(
        "unknown-model-type",
        mutated(("model.type", "heston")),
        (
            "model.type: expected 'gbm', 'merton', 'student_t', 'bootstrap', 'replay', "
            "'garch', 'fhs' or 'ewma', got 'heston'",
        ),
    ),
    Case(
        "unknown-margin-mode",
        mutated(("positions.0.margin_mode", "portfolio")),
        ("positions[0].margin_mode: expected 'isolated' or 'cross', got 'portfolio'",),
    ),
    Case(
        "bad-modes-entry",
        mutated(("modes", ["isolated", "hybrid"])),
        ("modes[1]: expected 'isolated', 'cross' or 'as_configured', got 'hybrid'",),
    ),
    Case(
        "portfolios-bad-field",
        portfolios_with_bad_leverage(),
        ("portfolios[1].positions[0].leverage: must be <= 125 for BTC notional 20,000", "got 130"),
    ),
    # command-line options
    Case(
        "paths-option-zero",
        BASE,
        ("--paths: expected an integer from 1 to 1,000,000,000, got 0",),
        args=("--paths", "0"),
        names_file=False,
    ),
    Case(
        "seed-option-negative",
        BASE,
        ("--seed: expected an integer >= 0, got -1",),
        args=("--seed", "-1"),
        names_file=False,
    ),
    Case(
        "out-is-a-file",
        BASE,
        ("--out: expected a folder", "an existing file"),
        names_file=False,
        out_is_file=True,
    ),
    # stress validate: the same checks, nothing else
    Case(
        "validate-unknown-key",
        mutated(("model.assets.BTC.volatility", 0.65)),
        ("model.assets.BTC.volatility: unknown key",),
        command="validate",
    ),
    Case(
        "validate-leverage",
        mutated(("positions.0.notional", 200000), ("positions.0.leverage", 120)),
        ("positions[0].leverage: must be <= 100", "got 120"),
        command="validate",
    ),
    Case("validate-ok", BASE, ("ok: ",), command="validate", exit_code=0),
]
BY_ID = {case.id: case for case in CASES}
assert len(BY_ID) == len(CASES), "case ids must be unique"
# the bad cases of the quick loop, one of each kind: a YAML field, TOML, the book (prepare), an
# option, an --out that is a file, `stress validate` (`pytest` runs every case)
QUICK = {
    "unknown-key-top-level",
    "string-for-number",
    "leverage-above-tier",
    "paths-option-zero",
    "out-is-a-file",
    "validate-leverage",
}

OUT_FILE_TEXT = "a file the user keeps here\n"


@dataclass
class Outcome:
    config: Path
    out: Path
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    out_file_text: str | None = None


def write_case(case: Case, folder: Path) -> tuple[Path, Path, list[str]]:
    """The case's config (and --out file) in `folder`: (config, out, the command's arguments)."""
    config = folder / f"config.{case.fmt}"  # None: no file (the missing-file case)
    if isinstance(case.config, dict):
        as_yaml = case.fmt == "yaml"
        text = yaml.safe_dump(case.config, sort_keys=False) if as_yaml else to_toml(case.config)
        write(folder, text, config.name)
    elif isinstance(case.config, str):
        write(folder, case.config, config.name)
    out = folder / "out"
    if case.out_is_file:
        out.write_text(OUT_FILE_TEXT, encoding="utf-8")
    args = [str(config)] if case.command == "validate" else [str(config), "--out", str(out)]
    return config, out, [case.command, *args, *case.args]


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    """Run every selected case once, concurrently (each is mostly interpreter start-up)."""
    written = {
        case.id: write_case(case, tmp_path_factory.mktemp(case.id))
        for case in selected_cases(request)
    }
    finished = run_stress_many(
        {case_id: (args, config.parent) for case_id, (config, _, args) in written.items()},
        workers=max(2, os.cpu_count() or 2),
        timeout=300,
    )
    return {
        case_id: Outcome(
            config=config,
            out=out,
            returncode=finished[case_id].returncode,
            stdout=finished[case_id].stdout,
            stderr=finished[case_id].stderr,
            out_file_text=out.read_text(encoding="utf-8") if out.is_file() else None,
        )
        for case_id, (config, out, _) in written.items()
    }


def the_line(outcome: Outcome) -> str:
    assert "Traceback" not in outcome.stderr, outcome.stderr
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got {lines!r}"
    return lines[0]


@pytest.mark.parametrize("case", case_params([c for c in CASES if c.exit_code == 2], quick=QUICK))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case: Case, outcomes):
    outcome = outcomes[case.id]
    assert outcome.returncode == 2, (outcome.returncode, outcome.stderr)
    line = the_line(outcome)
    assert line.startswith("error: "), line
    if case.names_file:
        assert f"{outcome.config}: " in line, f"the file is not named: {line!r}"
    for fragment in case.expect:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert outcome.stdout == ""
    if case.out_is_file:
        assert outcome.out_file_text == OUT_FILE_TEXT, "the existing file was touched"
        assert str(outcome.out) in line
    else:
        assert not outcome.out.exists(), "bad input must not create the output folder"
    assert not (outcome.config.parent / "reports").exists()


@pytest.mark.parametrize(
    "case", case_params([c for c in CASES if c.exit_code == 0], quick={"validate-ok"})
)
def test_validate_accepts_the_base_config(case: Case, outcomes):
    outcome = outcomes[case.id]
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stderr == ""
    assert outcome.stdout.startswith(f"ok: {outcome.config}: 1 portfolio(s), 2 position(s)")
    assert not outcome.out.exists()


def test_the_cases_are_what_they_say():
    """Guard the fixtures: the base is valid and the text edits hit what they aim at."""
    import stress

    stress.load_config(copy.deepcopy(BASE))
    assert "vol: .nan" in BY_ID["nan"].config
    assert "price: .inf" in BY_ID["inf"].config
    assert "seed: 1\nseed: 2\n" in BY_ID["duplicate-key"].config
    assert BY_ID["duplicate-key"].config.splitlines()[1:3] == ["seed: 1", "seed: 2"]
