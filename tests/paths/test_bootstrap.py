"""The stationary block bootstrap of joint historical returns (stress.paths.bootstrap).

Moments are checked against their exact expectations under the resampling scheme, with a 4-SE
tolerance from the spread across independent paths (paths are independent; steps within a path
are not).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import DATA, ROOT, assert_mean_within_4se

import stress
from stress.paths import iter_price_chunks, simulate_prices
from stress.paths.bootstrap import centred_returns
from stress.pipeline.prepare import prepare

BTC = str(DATA / "binance_spot_BTCUSDT_1h.csv.gz")
ETH = str(DATA / "binance_spot_ETHUSDT_1h.csv.gz")
N_PATHS = 4096


def config(**model) -> dict:
    m = {"type": "bootstrap", "history": [BTC, ETH], "since": "2021-01-01", "block_hours": 24}
    m.update(model)
    sim = {"paths": N_PATHS, "horizon_days": 1, "steps_per_day": 24}
    sim.update(m.pop("simulation", {}))
    return {
        "name": "boot",
        "seed": 3,
        "simulation": sim,
        "model": m,
        "account": {"wallet": 10000},
        "positions": [{"asset": "BTC", "side": "long", "notional": 20000, "leverage": 5}],
    }


@pytest.fixture(scope="module")
def base():
    cfg = stress.prepare(config()).config
    hist = prepare(cfg).history
    r = centred_returns(hist.returns, hist.bar_seconds / (365 * 86400), np.zeros(2))
    return cfg, r


def log_steps(cfg) -> np.ndarray:
    prices = stress.generate_paths(cfg)
    return np.diff(np.log(prices), axis=1)  # (paths, steps, assets)


def test_assets_and_prices_come_from_the_files(base):
    cfg, _ = base
    assert list(cfg.model.assets) == ["BTC", "ETH"]
    assert cfg.model.assets["BTC"].price == pytest.approx(42411.11)  # the last common close
    priced = stress.prepare(config(assets={"BTC": {"price": 60000}, "ETH": {"price": 3000}})).config
    assert stress.generate_paths(priced, paths=3)[:, 0, :].tolist() == [[60000.0, 3000.0]] * 3


def test_joint_second_moments_match_the_history(base):
    """Every drawn bar is uniform over the history, so per-step E[r_a r_b] is the history's:
    vol of each asset and the BTC-ETH covariance (hence correlation) survive resampling."""
    cfg, r = base
    x = log_steps(cfg)
    for a, b in ((0, 0), (1, 1), (0, 1)):
        assert_mean_within_4se(
            (x[..., a] * x[..., b]).mean(axis=1), float(np.mean(r[:, a] * r[:, b]))
        )
    corr_paths = np.corrcoef(x[..., 0].ravel(), x[..., 1].ravel())[0, 1]
    corr_hist = np.corrcoef(r[:, 0], r[:, 1])[0, 1]
    assert corr_paths == pytest.approx(corr_hist, abs=0.03)


@pytest.mark.parametrize("block", [1, 24])
def test_volatility_clusters_survive_in_blocks_only(base, block):
    """E|r_t||r_t+1| = (1 - p) * (history's lag-1 value, circular) + p * E|r|^2 with p = 1/block:
    blocks keep the clustering of |returns|, the i.i.d. bootstrap (block 1) loses it."""
    cfg, r = base
    x = log_steps(stress.load_config(config(block_hours=block)))
    a = np.abs(r[:, 0])
    p = 1.0 / block
    expected = (1 - p) * np.mean(a * np.roll(a, -1)) + p * np.mean(a) ** 2
    ax = np.abs(x[..., 0])
    assert_mean_within_4se((ax[:, 1:] * ax[:, :-1]).mean(axis=1), float(expected))
    lag1 = np.mean(a * np.roll(a, -1)) / np.mean(a) ** 2
    assert lag1 > 1.2  # the history does cluster, so the two cases are told apart


def test_chunk_size_does_not_change_paths(base):
    cfg, _ = base
    plan = prepare(cfg)
    spec, grid = plan.spec, plan.grid
    one = simulate_prices(spec, grid, 5, 1000, chunk_paths=256)
    two = np.concatenate([c for _, c in iter_price_chunks(spec, grid, 5, 1000, chunk_paths=1024)])
    np.testing.assert_array_equal(one, two)
    r256 = stress.run(cfg, paths=1000, chunk_paths=256).summary
    r768 = stress.run(cfg, paths=1000, chunk_paths=768).summary
    assert r256.equals(r768)


def test_step_lengths_share_the_drawn_hours():
    """4-hour steps are every 4th hourly price, and 15-minute steps pass through every hourly
    price: the hours drawn do not depend on the step length."""
    hourly = stress.generate_paths(config(), paths=300)
    four = stress.generate_paths(config(simulation={"steps_per_day": 6}), paths=300)
    quarter = stress.generate_paths(config(simulation={"steps_per_day": 96}), paths=300)
    np.testing.assert_allclose(four, hourly[:, ::4], rtol=1e-12)
    np.testing.assert_allclose(quarter[:, ::4], hourly, rtol=1e-12)


def test_sub_hour_steps_spread_the_hour_evenly(base):
    """Bridged pieces have variance E[r^2]/m and covariance E[r_a r_b]/m per step."""
    cfg, r = base
    x = log_steps(stress.load_config(config(simulation={"steps_per_day": 96})))
    for a, b in ((0, 0), (0, 1)):
        assert_mean_within_4se(
            (x[..., a] * x[..., b]).mean(axis=1), float(np.mean(r[:, a] * r[:, b])) / 4
        )


def test_demeaned_iid_bootstrap_keeps_the_mean_price():
    """With block 1 the steps are i.i.d. with E[exp(r)] = 1: E[S_T] = S_0 exactly."""
    cfg = stress.prepare(config(block_hours=1)).config
    prices = stress.generate_paths(cfg)
    assert_mean_within_4se(prices[:, -1, 0] / prices[:, 0, 0], 1.0)


def test_demean_false_keeps_the_history_drift(base):
    cfg, _ = base
    hist = prepare(cfg).history
    x = log_steps(stress.load_config(config(demean=False, block_hours=1)))
    assert_mean_within_4se(x[..., 0].mean(axis=1), float(hist.returns[:, 0].mean()))


def test_config_in_configs_loads_and_runs():
    cfg = stress.prepare(ROOT / "configs" / "bootstrap_btc_eth_hedge.yaml").config
    assert list(cfg.model.assets) == ["BTC", "ETH"]
    res = stress.run(cfg, paths=256)
    assert res.to_dict()["history"]["block_hours"] == 24


def test_history_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    copy = tmp_path / "sub" / "x_BTCUSDT_1h.csv.gz"
    copy.write_bytes(Path(BTC).read_bytes())
    (tmp_path / "sub" / "c.yaml").write_text(yaml.safe_dump(config(history=[copy.name])))
    monkeypatch.chdir(tmp_path)  # not the config's folder
    cfg = stress.prepare("sub/c.yaml").config
    assert cfg.model._history_files == (copy.resolve(),)
    assert list(cfg.model.assets) == ["BTC"]


def bad(message_parts: tuple[str, ...], **model) -> None:
    with pytest.raises(stress.ConfigError) as info:
        stress.prepare(config(**model))
    text = str(info.value)
    assert "\n" not in text
    for part in message_parts:
        assert part in text, text


@pytest.mark.parametrize(
    ("model", "parts"),
    [
        ({"history": ["nope.csv"]}, ("model.history[0]: no such file: nope.csv",)),
        ({"block_hours": 0}, ("model.block_hours: expected a number > 0, got 0",)),
        ({"block_hours": -3}, ("model.block_hours: expected a number > 0",)),
        ({"block_hours": 0.5}, ("model.block_hours: expected at least one bar (1 h), got 0.5",)),
        (
            {"since": "2023-12-29", "simulation": {"horizon_days": 7}},
            ("model.history: too short for the horizon: expected at least 168 returns",),
        ),
        ({"simulation": {"steps_per_day": 36}}, ("simulation.steps_per_day: expected a divisor",)),
        ({"correlation": [[1.0]]}, ("model.correlation: only used by model type gbm",)),
        ({"stride_hours": 24}, ("model.stride_hours: only used by model type replay",)),
        ({"assets": {"BTC": {"price": 1, "vol": 0.5}}}, ("model.assets.BTC.vol: not used",)),
        (
            {"assets": {"BTC": {"price": 1}}},
            ("model.assets: expected the assets of model.history",),
        ),
        ({"history": [BTC, BTC]}, ("model.history[1]: expected one file per asset",)),
        ({"since": "yesterday"}, ("model.since:",)),
        ({"history": None}, ("model.history: required for model type bootstrap",)),
    ],
)
def test_bad_input_names_the_field(model, parts):
    bad(parts, **model)


def test_bad_history_file_names_the_field_and_line(tmp_path):
    f = tmp_path / "X-USDT.csv"
    f.write_text("timestamp,close\n2021-01-01 00:00,1\n2021-01-01 01:00,abc\n")
    bad(("model.history[0]:", "line 3: close"), history=[str(f)])


def test_parametric_models_still_need_vol_and_assets():
    cfg = config(type="gbm", history=None, block_hours=None, since=None)
    cfg["model"] = {"type": "gbm", "assets": {"BTC": {"price": 1.0}}}
    with pytest.raises(stress.ConfigError, match=r"model\.assets\.BTC\.vol: required"):
        stress.prepare(cfg)
    cfg["model"] = {"type": "gbm"}
    with pytest.raises(stress.ConfigError, match=r"model\.assets: required"):
        stress.prepare(cfg)
