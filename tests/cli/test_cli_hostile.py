"""Hostile config files through the CLI: exit 2, one line on stderr, nothing written, fast.

Each case would once hang, eat gigabytes or print a traceback (issue 9): a billion-laughs alias
bomb, a 50 MB file, /dev/zero, a FIFO, nesting thousands deep, a 5,000-digit integer, and names
with newlines that split the message or forge a second ``error:`` line. Every subprocess runs
under a 2 GB address-space limit and a timeout, so a regression fails instead of taking the
machine down; output goes to files, which never block a child that writes too much. The cases
run two at a time (each is mostly interpreter start-up), once per module. Finer variations are
tested in process in tests/config/test_config_hostile.py.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import case_params, run_stress_many, selected_cases, write
from support.bad_input import BASE

from stress.errors import one_line

pytest.importorskip("resource")  # the memory limit needs POSIX

MEMORY_LIMIT = 2 * 2**30
TIMEOUT_SECONDS = 30.0
WORKERS = 2
FORGED = "\nerror: forged\r"  # what a name must not do: add a line to stderr


def billion_laughs(folder: Path) -> Path:
    """Ten anchors, each a list of ten aliases of the last: 10**10 values in 11 lines."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return write(folder, "\n".join([*lines, "name: *a9", ""]))


def fifty_megabytes(folder: Path) -> Path:
    return write(folder, "name: x\nseed: [" + "1, " * 17_000_000 + "1]\n")


def dev_zero(folder: Path) -> Path:
    path = folder / "config.yaml"
    path.symlink_to("/dev/zero")  # a .yaml name for an endless device
    return path


def fifo(folder: Path) -> Path:
    path = folder / "config.yaml"
    os.mkfifo(path)  # no writer ever comes: opening it for reading would block forever
    return path


def dumped(cfg: dict, name: str = "config.yaml") -> Callable[[Path], Path]:
    return lambda folder: write(folder, yaml.safe_dump(cfg, sort_keys=False), name)


def renamed_asset() -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["model"]["assets"][f"ETH{FORGED}"] = cfg["model"]["assets"].pop("ETH")
    return cfg


def renamed_market() -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["exchange"]["markets"][f"BTC{FORGED}"] = cfg["exchange"]["markets"].pop("BTC")
    return cfg


def sweep_with_position_id() -> dict:
    """A sweep naming an unknown position: the message lists the known ids as written."""
    cfg = copy.deepcopy(BASE)
    account, positions = cfg.pop("account"), cfg.pop("positions")
    positions[0]["id"] = f"btc{FORGED}"
    cfg["sweep"] = {
        "base": {"account": account, "positions": positions},
        "grid": {"leverage.nope": [10]},
    }
    return cfg


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], Path]  # writes the config into a folder and returns its path
    expect: tuple[str, ...]  # fragments of the message (after one_line)
    command: str = "run"


DIGITS = sys.get_int_max_str_digits()
CASES = [
    Case(
        "billion-laughs",
        billion_laughs,
        ("line 5: too many values: expected at most 100,000 (YAML aliases expanded)",),
    ),
    Case(
        "fifty-megabytes",
        fifty_megabytes,
        ("too large: expected at most 5,000,000 bytes, got 51,000,018",),
    ),
    Case("dev-zero", dev_zero, ("cannot read: expected a regular file, got a character device",)),
    Case("fifo", fifo, ("cannot read: expected a regular file, got a named pipe (FIFO)",)),
    Case(
        "list-900-deep",
        lambda d: write(d, "name: " + "[" * 900 + "]" * 900 + "\n"),
        ("invalid YAML at line 1: nested deeper than 100 levels",),
    ),
    Case(
        "map-3000-deep",
        lambda d: write(d, "name: x\nseed: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n"),
        ("invalid YAML at line 2: nested deeper than 100 levels",),
    ),
    Case(
        "toml-3000-deep",
        lambda d: write(d, 'name = "x"\nseed = ' + "[" * 3000 + "]" * 3000 + "\n", "c.toml"),
        ("invalid TOML at line 2: nested deeper than 100 levels",),
    ),
    Case(
        "yaml-5000-digits",
        lambda d: write(d, "name: x\nseed: " + "9" * 5000 + "\n"),
        (f"line 2: a number with more than {DIGITS} digits",),
    ),
    Case(
        "toml-5000-digits",
        lambda d: write(d, 'name = "x"\nseed = ' + "9" * 5000 + "\n", "c.toml"),
        (f"line 2: a number with more than {DIGITS} digits",),
    ),
    Case(
        "asset-name",
        dumped(renamed_asset()),
        ("positions[1].asset: expected an asset of model.assets", one_line(f"ETH{FORGED}")),
        command="validate",
    ),
    Case(
        "market-key",
        dumped(renamed_market()),
        (one_line(f"exchange.markets.BTC{FORGED}: expected an asset of model.assets"),),
        command="validate",
    ),
    Case(
        "position-id",
        dumped(sweep_with_position_id()),
        ("sweep.grid.leverage.nope: unknown position id", one_line(f"btc{FORGED}")),
        command="validate",
    ),
    Case(
        "file-name",
        dumped({**BASE, "colour": "red"}, f"config{FORGED}.yaml"),
        ("colour: unknown key",),
        command="validate",
    ),
]
BY_ID = {case.id: case for case in CASES}
# the quick loop's cases: a file that would block for ever, a name that would forge a line
QUICK = {"fifo", "asset-name"}


@dataclass
class Outcome:
    config: Path
    out: Path
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    """Run every selected case once, `WORKERS` at a time, each under the limits."""
    configs = {
        case.id: (case, case.make(tmp_path_factory.mktemp(case.id)))
        for case in selected_cases(request)
    }
    jobs = {}
    for case_id, (case, config) in configs.items():
        out = config.parent / "out"
        args = [config] if case.command == "validate" else [config, "--out", out]
        jobs[case_id] = ([case.command, *args], config.parent)  # a default reports/ lands there
    finished = run_stress_many(
        jobs, workers=WORKERS, timeout=TIMEOUT_SECONDS, memory_limit=MEMORY_LIMIT
    )
    return {
        case_id: Outcome(
            config,
            config.parent / "out",
            finished[case_id].returncode,
            finished[case_id].stdout,
            finished[case_id].stderr,
            finished[case_id].seconds,
        )
        for case_id, (_, config) in configs.items()
    }


@pytest.mark.parametrize("case", case_params(CASES, quick=QUICK))
def test_hostile_config_exits_2_with_one_line_quickly(case: Case, outcomes):
    outcome = outcomes[case.id]
    assert outcome.returncode is not None, f"still running after {TIMEOUT_SECONDS} s"
    assert "Traceback" not in outcome.stderr, outcome.stderr[-2000:]
    assert outcome.returncode == 2, (outcome.returncode, outcome.seconds, outcome.stderr[-2000:])
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    line = lines[0]
    assert line.startswith(f"error: {one_line(str(outcome.config))}: "), line
    for fragment in case.expect:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert outcome.stdout == ""
    assert not outcome.out.exists(), "bad input must not create the output folder"
    assert not (outcome.config.parent / "reports").exists()
