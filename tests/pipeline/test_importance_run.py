"""`simulation.importance: auto` end to end: a rare first passage against its closed form, the
gain over plain Monte Carlo, `off` unchanged, and the combinations it refuses."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml
from conftest import ROOT
from scipy.stats import norm
from support.factories import one_asset_config, two_asset_config

import stress
from stress.errors import ConfigError

VOL, S0 = 0.8, 100.0
BGK = 0.5826  # Broadie-Glasserman-Kou: -zeta(1/2) / sqrt(2 pi)


def first_passage(barrier: float, grid) -> float:
    """P(min over the monitoring dates of S <= barrier) for a driftless GBM from S0: the
    continuous formula with the barrier moved away by 0.5826 vol sqrt(dt) (BGK)."""
    horizon = grid.n_steps * grid.dt
    nu, st = -0.5 * VOL**2, VOL * math.sqrt(horizon)
    b = math.log(barrier / S0) - BGK * VOL * math.sqrt(grid.dt)
    return norm.cdf((b - nu * horizon) / st) + math.exp(2 * nu * b / VOL**2) * norm.cdf(
        (b + nu * horizon) / st
    )


def long_position(leverage: float, paths: int, seed: int = 1, importance: str = "auto") -> dict:
    """One isolated long, no funding, no fee: liquidated where the price first touches its
    closed-form liquidation price."""
    cfg = one_asset_config(
        leverage=leverage, paths=paths, seed=seed, modes=("isolated",), vol=VOL, price=S0
    )
    cfg["simulation"]["importance"] = importance
    return cfg


def test_rare_first_passage_matches_the_closed_form_within_its_interval():
    """2.5x long: p about 6e-6 in a week; 20,000 weighted paths bracket it."""
    res = stress.run(long_position(2.5, 20_000))
    m = res.metrics[0]
    p = first_passage(m["positions"]["p"]["liquidation_price"], res.grid)
    assert 1e-6 < p < 1e-5
    lo, hi = m["p_liquidation_ci"]
    assert lo <= p <= hi, (p, m["p_liquidation"], m["p_liquidation_ci"])
    assert m["p_liquidation_se"] < 0.05 * m["p_liquidation"]
    info = res.to_dict()["importance"]
    assert info["method"] == "mean_shift" and info["shift_sd"] > 3.0
    assert 0.0 < info["effective_paths"] <= 20_000


def test_relative_error_is_ten_times_smaller_than_plain_monte_carlo_at_p_1e_3():
    """3.2x long, p about 9.4e-4; at 4,096 paths plain Monte Carlo's relative error is
    sqrt((1 - p) / (p n)) = 0.51. The weighted estimate's is measured by its spread over 20
    seeds (an independent check of its own standard error, which it must not undercut)."""
    n, seeds = 4096, range(1, 21)
    runs = [stress.run(long_position(3.2, n, seed)) for seed in seeds]
    est = np.array([r.metrics[0]["p_liquidation"] for r in runs])
    ses = np.array([r.metrics[0]["p_liquidation_se"] for r in runs])
    p = first_passage(runs[0].metrics[0]["positions"]["p"]["liquidation_price"], runs[0].grid)
    assert 5e-4 < p <= 1e-3
    plain = math.sqrt((1 - p) / (p * n))
    spread = est.std(ddof=1) / p
    assert plain / spread >= 10.0, (plain, spread)
    assert plain / (ses.mean() / p) >= 10.0
    assert 0.6 < ses.mean() / est.std(ddof=1) < 1.6  # its own SE is honest
    # the mean of the 20 is unbiased: within 4 standard errors of the closed form
    assert abs(est.mean() - p) <= 4 * est.std(ddof=1) / math.sqrt(len(est))


def without_time(summary: dict) -> dict:
    out = copy.deepcopy(summary)
    out["run_info"].pop("elapsed_seconds")
    return out


def test_off_reproduces_the_run_without_the_key_bit_for_bit():
    cfg = yaml.safe_load((ROOT / "configs" / "btc_eth_hedge.yaml").read_text())
    plain = stress.run(cfg, paths=512)
    cfg["simulation"]["importance"] = "off"
    off = stress.run(cfg, paths=512)
    assert without_time(off.to_dict()) == without_time(plain.to_dict())
    assert "importance" not in off.to_dict() and off.weights is None


@pytest.mark.parametrize("name", ["btc_eth_hedge", "alt_isolated_high_leverage"])
def test_off_gives_the_summaries_stored_before_importance_sampling_existed(name, tmp_path):
    """The stored summaries (tests/support/expected) predate the feature: an explicit off
    must give them to their 12 digits, not just agree with a run without the key."""
    from support.expected_summaries import load, summary_of
    from test_examples_unchanged import first_difference

    cfg = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    cfg["simulation"]["importance"] = "off"
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert first_difference(summary_of(path), load(ROOT / "configs" / f"{name}.yaml")) is None


def test_no_finite_boundary_means_no_shift_and_weights_of_exactly_one():
    """A 1x long is liquidated only near a price of 0: beyond the search, so no shift."""
    res = stress.run(long_position(1.0, 512))
    info = res.to_dict()["importance"]
    assert info["shift_sd"] == 0.0 and info["theta"] == [0.0] and info["target"] is None
    assert "no shift" in info["note"]
    assert res.weights is None and res.liquidation_weights is None  # every weight was 1
    plain = stress.run(long_position(1.0, 512, importance="off"))
    assert np.array_equal(res.results.final_equity, plain.results.final_equity)  # same paths
    assert res.metrics == plain.metrics  # plain Monte Carlo's estimators, to the bit


def test_every_mode_weighted_and_the_verdict_runs():
    cfg = two_asset_config(simulation={"paths": 1024, "horizon_days": 2.0, "steps_per_day": 96,
                                       "importance": "auto"})  # fmt: skip
    cfg["account"]["risk_capital"] = 5_000.0
    res = stress.run(cfg)
    out = res.to_dict()
    for mode in out["portfolios"][0]["modes"].values():
        assert mode["p_liquidation_interval"] == "normal"
        assert 0.0 <= mode["p_liquidation"] <= 1.0
    assert out["importance"]["p_share"] == 0.25
    assert res.verdicts[0]["decided_by"] == "risk_capital"


def bad(cfg: dict) -> str:
    with pytest.raises(ConfigError) as err:
        stress.run(cfg)
    msg = str(err.value)
    assert "\n" not in msg and "simulation.importance" in msg
    return msg


def test_refused_combinations_name_the_field_in_one_line():
    student = long_position(3.0, 512)
    student["model"].update(type="student_t", dof=4.0)
    assert "gbm and merton only" in bad(student) and "got student_t" in bad(student)
    shocked = long_position(3.0, 512)
    shocked["scenarios"] = [{"name": "crash", "shocks": [{"asset": "X", "at_hour": 1.0,
                                                          "move": -0.2}]}]  # fmt: skip
    assert "scenarios" in bad(shocked)
    stopped = long_position(3.0, 512)
    stopped["positions"][0]["stop_loss"] = {"price": 90.0}
    assert "rules" in bad(stopped)


def test_a_dask_client_is_refused():
    with pytest.raises(ConfigError, match="simulation.importance: auto runs on this machine"):
        stress.run(long_position(3.0, 512), client=object())


def test_per_path_table_recomputes_the_weighted_numbers():
    res = stress.run(long_position(3.2, 1024))
    df = res.per_path()
    m = res.metrics[0]
    liquidated = df["liquidation_step"].notna().to_numpy()
    assert np.mean(df["liquidation_weight"] * liquidated) == pytest.approx(m["p_liquidation"])
    assert np.mean(df["weight"] * df["loss"]) == pytest.approx(m["expected_loss"])


def test_optimise_and_venue_comparison_refuse_it():
    from stress.pipeline.venues import compare_venues

    cfg = long_position(3.0, 512)
    cfg["account"]["risk_capital"] = 1_000.0
    with pytest.raises(ConfigError, match="simulation.importance: stress optimise"):
        stress.optimise(cfg)
    with pytest.raises(ConfigError, match="simulation.importance: venues are compared"):
        compare_venues(stress.load_config(cfg), ["binance", "bybit"])


def test_a_single_position_book_reports_one_estimate_for_book_and_position():
    res = stress.run(long_position(2.5, 4096))
    book = res.metrics[0]
    assert book["positions"]["p"]["p_liquidation"] == pytest.approx(
        book["p_liquidation"], rel=1e-12
    )
