"""Sweeps through the command line: bad sweeps exit 2 with one line and write nothing; the
shipped example validates.

The base config is sweep_cases.sweep_config's: tests/support/bad_input.py's BASE with its book
replaced by a sweep of a BTC long (cross) and an ETH short (isolated), 20,000 each, 10x, wallet
10,000.
"""

from __future__ import annotations

import pytest
import yaml
from conftest import run_stress_many
from sweep_cases import EXAMPLE, sweep_config

import stress

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
