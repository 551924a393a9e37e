"""`simulation.importance: auto` on merton paths: a jump-driven rare liquidation against a large
plain Monte Carlo run, the gain at equal paths, `off` unchanged, and what is still refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from conftest import ROOT
from support.factories import one_asset_config

import stress
from stress.errors import ConfigError

JUMPS = {"intensity": 4.0, "mean": -0.10, "std": 0.05, "common": True}


def long_position(paths: int, seed: int = 1, importance: str = "auto") -> dict:
    """A 3.4x isolated long, vol 0.6, crashes of -10 % four times a year, 7 days in hourly
    steps: liquidated with p about 1.07e-3, mostly by one to three jumps and a fall between."""
    cfg = one_asset_config(
        leverage=3.4, paths=paths, seed=seed, modes=("isolated",), vol=0.6, steps_per_day=24
    )
    cfg["simulation"]["importance"] = importance
    cfg["model"].update(type="merton", jumps=JUMPS)
    return cfg


def test_weighted_estimate_agrees_with_a_million_plain_paths_and_is_far_less_noisy():
    """20 seeds of 4,096 weighted paths against 1,000,000 plain ones (the same model): the
    means agree within 4 combined standard errors; the weighted relative error at 4,096 paths,
    measured by the spread over the seeds, is several times plain Monte Carlo's
    sqrt((1 - p) / (p n)) = 0.48 (about 8x measured; README)."""
    plain = stress.run(long_position(1_000_000, seed=99, importance="off")).metrics[0]
    p_plain = plain["p_liquidation"]
    se_plain = math.sqrt(p_plain * (1 - p_plain) / 1_000_000)
    assert 5e-4 < p_plain < 2e-3
    n, runs = 4096, [stress.run(long_position(4096, seed)) for seed in range(1, 21)]
    est = np.array([r.metrics[0]["p_liquidation"] for r in runs])
    ses = np.array([r.metrics[0]["p_liquidation_se"] for r in runs])
    se_mean = est.std(ddof=1) / math.sqrt(est.size)
    assert abs(est.mean() - p_plain) <= 4 * math.hypot(se_mean, se_plain)
    rel_plain = math.sqrt((1 - p_plain) / (p_plain * n))
    spread = est.std(ddof=1) / p_plain
    assert rel_plain / spread >= 5.0, (rel_plain, spread)
    # each run's own standard error tells the truth about the spread (within the noise of 20)
    assert 0.6 < ses.mean() / est.std(ddof=1) < 1.6
    info = runs[0].to_dict()["importance"]
    assert info["jump_intensity"] > 10 * JUMPS["intensity"] and info["shift_sd"] > 1.0


def test_off_reproduces_the_merton_example_bit_for_bit():
    cfg = yaml.safe_load((ROOT / "configs" / "alt_isolated_high_leverage.yaml").read_text())
    plain = stress.run(cfg, paths=512)
    cfg["simulation"]["importance"] = "off"
    off = stress.run(cfg, paths=512)
    assert np.array_equal(off.results.final_equity, plain.results.final_equity)
    assert off.metrics == plain.metrics and off.weights is None


@pytest.mark.parametrize("common", [True, False], ids=["common", "independent"])
def test_the_two_asset_example_runs_weighted_with_either_clock(common):
    """The merton example under auto: the weights sum to about the path count (they average
    to 1 under the sampling mixture), and every estimate stays a probability."""
    cfg = yaml.safe_load((ROOT / "configs" / "alt_isolated_high_leverage.yaml").read_text())
    cfg["simulation"]["importance"] = "auto"
    cfg["model"]["jumps"]["common"] = common
    res = stress.run(cfg, paths=2048)
    info = res.to_dict()["importance"]
    w = res.weights
    assert abs(w.mean() - 1.0) <= 4 * w.std(ddof=1) / math.sqrt(w.size)
    assert info["weight_sum"] == pytest.approx(float(w.sum()))
    assert info["jump_intensity"] >= 12.0
    for mode in res.to_dict()["portfolios"][0]["modes"].values():
        assert 0.0 <= mode["p_liquidation"] <= 1.0


def test_jumps_in_the_books_favour_leave_the_intensity_alone():
    cfg = long_position(1024)
    cfg["model"]["jumps"] = {**JUMPS, "mean": 0.10}
    info = stress.run(cfg).to_dict()["importance"]
    assert info["jump_intensity"] == 4.0 and info["shift_sd"] > 0.0


def test_history_models_are_still_refused_in_one_line():
    data = ROOT / "data"
    cfg = long_position(512)
    cfg["model"] = {
        "type": "bootstrap",
        "history": [str(data / "binance_spot_BTCUSDT_1h.csv.gz")],
        "assets": {"X": {"price": 100.0}},
    }
    with pytest.raises(ConfigError) as err:
        stress.load_config(cfg)
    msg = str(err.value)
    assert "\n" not in msg and "simulation.importance" in msg and "got bootstrap" in msg
