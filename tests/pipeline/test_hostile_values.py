"""Extreme values: refused with one line naming the field, or run without overflow or warnings.

Every case here once crashed the process, wrote out of bounds, ran for ever or printed a numpy
warning. The config now bounds magnitudes to what a real account can have (`stress.config.limits`),
estimates a run's memory and work before doing any (`stress.pipeline.budget`), and the compiled code
never indexes with a value it did not check.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import yaml
from conftest import ROOT, case_params, run_stress
from support.bad_input import mutated

import stress
from stress.errors import ConfigError
from stress.margin.aggregate import accumulate_nb

MEMORY_LIMIT = 3 * 2**30  # a regression must fail, not take the machine


REFUSED = [
    # (id, edits, field named, what the message says)
    (
        "huge-wallet",
        [("account.wallet", 1.7e308), ("positions.0.notional", 1e308), ("positions.0.leverage", 1)],
        "account.wallet",
        "<= 1000000000000",
    ),
    (
        "huge-funding",
        [("exchange.funding", {"rate": 1e308, "interval_hours": 8})],
        "exchange.funding.rate",
        "<= 1",
    ),
    (
        "huge-jump-intensity",
        [
            ("model.type", "merton"),
            ("model.jumps", {"intensity": 1e300, "mean": -0.05, "std": 0.05}),
        ],
        "model.jumps.intensity",
        "<= 1000000",
    ),
    (
        "tiny-funding-interval",
        [("exchange.funding", {"rate": 0.0001, "interval_hours": 1e-300})],
        "exchange.funding.interval_hours",
        ">= 0.0166",
    ),
    (
        "negative-maintenance",
        [("exchange.markets.BTC.tiers.0.maintenance_amount", 1_000_000)],
        "exchange.markets.BTC.tiers[0].maintenance_amount",
        "must keep the maintenance >= 0",
    ),
    ("long-horizon", [("simulation.horizon_days", 1e6)], "simulation.horizon_days", "<= 3660"),
    ("huge-horizon", [("simulation.horizon_days", 1e308)], "simulation.horizon_days", "<= 3660"),
    ("fine-steps", [("simulation.steps_per_day", 10**6)], "simulation.steps_per_day", "<= 86400"),
    ("many-paths", [("simulation.paths", 10**12)], "simulation.paths", "<= 1000000000"),
    (
        "work",
        [("simulation.paths", 10**9), ("simulation.steps_per_day", 86_400)],
        "simulation.paths",
        "position-steps",
    ),
    (
        "memory",
        [("simulation.horizon_days", 3660), ("simulation.steps_per_day", 86_400)],
        "simulation",
        "of memory",
    ),
    (
        "scenario-vol",
        [("scenarios", [{"name": "wild", "vol_multiplier": 99.0}])],
        "scenarios[0].vol_multiplier",
        "must stay <= 20",
    ),
    ("huge-price", [("model.assets.BTC.price", 1e300)], "model.assets.BTC.price", "<= 1000000000"),
    (
        "days-of-work",
        [("simulation.paths", 10**9), ("simulation.steps_per_day", 1440)],
        "simulation.paths",
        "would take about",
    ),
    ("long-name", [("name", "x" * 10_000)], "name", "expected at most 100 characters"),
    ("long-id", [("positions.1.id", "y" * 300)], "positions[1].id", "at most 100 characters"),
]


# one subprocess each: the quick loop keeps a bound on a field, on memory and on work
@pytest.mark.parametrize(
    ("edits", "field", "says"),
    case_params(
        REFUSED,
        quick={"huge-wallet", "memory", "days-of-work"},
        id_of=lambda c: c[0],
        values_of=lambda c: c[1:],
    ),
)
def test_extreme_values_are_refused_by_validate_and_run(tmp_path, edits, field, says):
    # validate through the command line (exit 2, one line); run refuses in the same load, which
    # tests/cli/test_cli_errors.py covers through the command for the other bad values
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(mutated(*edits)))
    proc = run_stress("validate", cfg_file, cwd=tmp_path, memory_limit=MEMORY_LIMIT)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {cfg_file}: {field}: "), lines[0]
    assert says in lines[0], lines[0]
    with pytest.raises(ConfigError) as caught:
        stress.run(str(cfg_file))
    assert str(caught.value) == lines[0].removeprefix("error: ")


def test_extreme_accepted_values_run_without_overflow_or_warnings():
    cases = [
        [("model.assets.BTC.vol", 20.0), ("model.assets.ETH.vol", 20.0)],
        [("model.assets.BTC.drift", 10.0), ("model.assets.ETH.drift", -10.0)],
        [("model.assets.ETH.price", 1e-9), ("positions.1.notional", 1e3)],
        [
            ("exchange.markets", {}),
            ("account.wallet", 1e12),
            ("positions.0.notional", 2e11),
            ("positions.1.notional", 1e11),
            ("positions.1.margin", 1e10),
        ],
        [("exchange.funding", {"rate": 1.0, "interval_hours": 1 / 60})],
        [("exchange.funding", {"rate": -1.0, "interval_hours": 1 / 60})],
        [("model.type", "merton"), ("model.jumps", {"intensity": 1e6, "mean": 5.0, "std": 5.0})],
        [("model.type", "merton"), ("model.jumps", {"intensity": 1e6, "mean": -5, "std": 5.0})],
        [("model.type", "student_t"), ("model.dof", 2.0001), ("model.assets.BTC.vol", 20.0)],
        [
            ("simulation.horizon_days", 3660),
            ("simulation.steps_per_day", 1),
            ("model.assets.BTC.vol", 20.0),
        ],
    ]
    for edits in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = stress.run(mutated(*edits), paths=256)
            data = res.to_dict()
        for port in data["portfolios"]:
            for m in port["modes"].values():
                for key in ("expected_loss", "es_99", "bad_debt_mean", "fees_paid_mean"):
                    assert np.isfinite(m[key]), (edits, key)


def test_histogram_never_indexes_with_a_nan_loss():
    # int(NaN) is not a bin: a NaN loss must land inside the array (the underflow bin)
    loss = np.array([[np.nan], [np.inf], [-np.inf], [0.5]])
    counts = np.zeros((1, 8 + 2), dtype=np.int64)
    accumulate_nb(
        loss,
        np.array([[-1], [3], [-1], [99]], dtype=np.int32),  # 99: beyond the histogram
        np.zeros((4, 1)),
        np.zeros((4, 1)),
        np.ones((4, 1)),
        np.zeros(1),
        np.ones(1),
        np.zeros(1, dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1),
        np.zeros((1, 5), dtype=np.int64),
        counts,
        np.zeros((1, 8 + 2)),
        0,
        1,  # books 0:1
    )
    assert counts.sum() == 4
    assert counts[0, 0] == 2 and counts[0, -1] == 1  # NaN and -inf low, +inf high


def test_non_finite_equity_stops_the_run():
    from support.factories import engine_on, one_asset_config

    prices = np.array([100.0, np.inf, 100.0])[None, :, None]
    with pytest.raises(ConfigError, match="overflowed float64"):
        engine_on(one_asset_config(modes=("isolated",)), prices)


def test_calibrate_refuses_a_price_that_does_not_trade(tmp_path):
    times = np.arange(201) * 3600 + 1_700_000_000
    close = np.where(np.arange(201) < 150, 100.0, 110.0)  # 199 zero returns, one move
    path = tmp_path / "FLAT-USDT_1h.csv"
    path.write_text(
        "unix,close\n" + "".join(f"{t},{c}\n" for t, c in zip(times, close, strict=True))
    )
    proc = run_stress(
        "calibrate", path, "--model", "merton", cwd=tmp_path, memory_limit=MEMORY_LIMIT
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {path}: close: expected returns of a traded price for model merton, got 199 "
        "of 200 returns exactly equal (the price did not move); fit gbm, or choose a window "
        "where it trades"
    ]


@pytest.mark.slow  # writes and reads back hundreds of megabytes
def test_a_gzip_bomb_is_read_only_up_to_the_cap(tmp_path):
    # 3 MB of gzip that expands to 600 MB: refused after reading 256 MB, not loaded whole
    bomb = tmp_path / "BOMB-USDT_1h.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(b"unix,close\n")
        row = b"1700000000,100.0\n" * 65_536
        for _ in range(600 * 2**20 // len(row)):
            fh.write(row)
    assert bomb.stat().st_size < 5 * 2**20
    proc = run_stress("calibrate", bomb, cwd=tmp_path, memory_limit=MEMORY_LIMIT)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: {bomb}: expected a price file of at most 256 MB uncompressed, got a larger one"
    ]


@pytest.mark.slow
def test_engine_tests_pass_with_bounds_checking(tmp_path):
    # The compiled code indexes arrays without checks; NUMBA_BOUNDSCHECK=1 turns every index
    # into a checked one, so an out-of-bounds read or write fails the run instead of corrupting
    # memory. The on-disk cache is off so the kernels are compiled with the checks.
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", STRESS_NUMBA_CACHE="0")
    tests = [
        "tests/margin/test_engine.py",
        "tests/margin/test_engine_tiers.py",
        "tests/analysis/test_streaming.py",
        "tests/pipeline/test_hostile_values.py::test_histogram_never_indexes_with_a_nan_loss",
        "tests/pipeline/test_hostile_values.py::test_non_finite_equity_stops_the_run",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_the_api_checks_what_its_own_arguments_would_cost():
    # the config is small; a chunk of a million whole paths of 1,441 marks is not (~47 GB)
    cfg = mutated(("simulation.steps_per_day", 1440))
    with pytest.raises(ConfigError, match=r"^simulation: the run would need about .* of memory"):
        stress.run(cfg, paths=1_024_000, chunk_paths=1_024_000)
    with pytest.raises(ConfigError, match=r"^paths: the run would take about"):
        stress.run(cfg, paths=10**9)
