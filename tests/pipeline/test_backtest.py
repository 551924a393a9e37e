"""`stress.backtest`: realised events by hand, no look-ahead, reproducibility, bad options.

Nothing here says a model is good: the README's table is what `stress backtest` prints on the
shipped data; these tests check that what it computes is what it says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DATA
from scipy.stats import norm

import stress
from stress.errors import ConfigError
from stress.history.prices import read_prices
from stress.output.publish import json_text
from stress.paths.generate import block_rng
from stress.pipeline.backtest import backtest
from stress.pipeline.backtest_models import gbm_forecaster
from stress.pipeline.backtest_paths import day_extremes

BTC_FILE = DATA / "binance_spot_BTCUSDT_1h.csv.gz"
MODELS = ["garch", "fhs", "ewma", "gbm", "climatology"]
SHORT = {"test": "2022-01-01:2022-01-21", "paths": 64}


def write_bars(path, frame: pd.DataFrame) -> None:
    out = frame.copy()
    out["open_time_utc"] = out["open_time_utc"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out.to_csv(path, index=False)


# ---------------------------------------------------------------------------------------------
# Realised events, by hand


def synthetic(tmp_path):
    """61 quiet training days ending at 100, then four designed test days (every day ends at a
    close of 100, so each entry is 100). Liquidation prices at entry 100 (mmr 0.4 %): long 50x
    98.39, long 25x 96.39, short 50x 101.59, short 25x 103.59."""
    rng = np.random.default_rng(5)
    train = pd.date_range("2021-11-01", "2021-12-31 23:00", freq="h", tz="UTC")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, train.size)))
    close *= 100.0 / close[-1]
    test = pd.date_range("2022-01-01", "2022-01-04 23:00", freq="h", tz="UTC")
    c = np.full(test.size, 100.0)
    c[24 + 10] = 101.7  # day 2: a close past the short 50x price
    c[48 + 10] = 98.0  # day 3: a close past the long 50x price
    opens = np.concatenate([[close[-1]], c[:-1]])
    high = np.maximum(c, opens) + 0.5
    low = np.minimum(c, opens) - 0.5
    low[5] = 98.0  # day 1: a wick past the long 50x price
    high[24 + 10] = 101.8
    low[48 + 12] = 96.3  # day 3: a wick past the long 25x price
    frame = pd.DataFrame(
        {
            "open_time_utc": np.concatenate([train, test]),
            "open": np.concatenate([[close[0]], close[:-1], opens]),
            "high": np.concatenate([close * 1.001, high]),
            "low": np.concatenate([close * 0.999, low]),
            "close": np.concatenate([close, c]),
        }
    )
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    path = tmp_path / "binance_spot_BTCUSDT_1h.csv"  # BTC: the out-of-sample brackets
    write_bars(path, frame)
    return path


def test_realised_events_by_hand_with_wicks_and_closes(tmp_path):
    path = synthetic(tmp_path)
    res = backtest(
        [path], train="2021-11-01:2021-12-31", test="2022-01-01:2022-01-04", models="gbm",
        paths=32,
    )  # fmt: skip
    daily = res.daily.set_index(["day", "position"])
    names = ["long-10x", "long-25x", "long-50x", "short-10x", "short-25x", "short-50x"]
    wicks = {1: ["long-50x"], 2: ["short-50x"], 3: ["long-25x", "long-50x"], 4: []}
    closes = {1: [], 2: ["short-50x"], 3: ["long-50x"], 4: []}
    for day in range(1, 5):
        at = pd.Timestamp(f"2022-01-0{day}", tz="UTC")
        got_w = [n for n in names if daily.loc[(at, n), "liquidated_wicks"]]
        got_c = [n for n in names if daily.loc[(at, n), "liquidated_closes"]]
        assert (got_w, got_c) == (wicks[day], closes[day]), day
    assert (res.daily["liquidated"] == res.daily["liquidated_wicks"]).all()
    data = res.to_dict()
    assert data["realised_from"] == "wicks" and data["test"]["days"] == 4
    long50 = data["positions"][2]
    assert long50["liquidation_move"] == pytest.approx(0.98 / 0.996 - 1)
    assert long50["realised"]["frequency"] == 0.5 and long50["realised"]["frequency_closes"] == 0.25
    by_closes = backtest(
        [path], train="2021-11-01:2021-12-31", test="2022-01-01:2022-01-04", models="gbm",
        paths=32, closes_only=True,
    )  # fmt: skip
    assert (by_closes.daily["liquidated"] == by_closes.daily["liquidated_closes"]).all()
    assert by_closes.to_dict()["steps_per_bar"] == 1


# ---------------------------------------------------------------------------------------------
# No look-ahead


def corrupted_copy(tmp_path, from_day: str):
    """The shipped BTC history with every price of a bar stamped from ``from_day`` on x10."""
    frame = pd.read_csv(BTC_FILE, parse_dates=["open_time_utc"])
    frame["open_time_utc"] = frame["open_time_utc"].dt.tz_localize("UTC")
    later = frame["open_time_utc"] >= pd.Timestamp(from_day, tz="UTC")
    for col in ("open", "high", "low", "close"):
        frame.loc[later, col] *= 10.0
    path = tmp_path / "binance_spot_BTCUSDT_1h.csv"
    write_bars(path, frame)
    return path


@pytest.mark.parametrize("refit_days", [None, 4])
def test_corrupting_the_future_changes_no_forecast_up_to_that_day(tmp_path, refit_days):
    day = "2022-01-10"
    clean = backtest([BTC_FILE], **SHORT, refit_days=refit_days).daily
    dirty = backtest([corrupted_copy(tmp_path, day)], **SHORT, refit_days=refit_days).daily
    upto = clean["day"] <= pd.Timestamp(day, tz="UTC")
    assert upto.sum() == 10 * 6
    for model in MODELS:  # bit for bit
        np.testing.assert_array_equal(dirty.loc[upto, model], clean.loc[upto, model])
    before = clean["day"] < pd.Timestamp(day, tz="UTC")
    np.testing.assert_array_equal(dirty.loc[before, "liquidated"], clean.loc[before, "liquidated"])
    for model in ("garch", "fhs", "ewma"):  # the test has teeth: the day after sees the jump
        assert not np.array_equal(dirty.loc[~upto, model], clean.loc[~upto, model]), model


def test_a_refit_that_fails_keeps_the_previous_fit(tmp_path):
    path = corrupted_copy(tmp_path, "2022-01-10")  # the x10 jump makes the refit non-stationary
    data = backtest([path], **SHORT, refit_days=4, models="garch").to_dict()
    fits = data["fits"]["garch"]
    assert "refit_failed" not in fits[2] and "before 2022-01-13" in fits[3]["refit_failed"]
    assert fits[3]["fitted_before"] == fits[2]["fitted_before"] == "2022-01-09"


def test_a_days_forecast_does_not_depend_on_the_window():
    long = backtest([BTC_FILE], **SHORT).daily
    late = backtest([BTC_FILE], test="2022-01-15:2022-01-21", paths=64).daily
    tail = long[long["day"] >= pd.Timestamp("2022-01-15", tz="UTC")].reset_index(drop=True)
    for model in MODELS:
        np.testing.assert_array_equal(late[model], tail[model])


# ---------------------------------------------------------------------------------------------
# End to end on a short window


def test_a_short_run_is_well_formed_and_reproducible():
    res = stress.backtest([BTC_FILE], **SHORT)
    data = res.to_dict()
    assert data["models"] == MODELS and data["test"]["days"] == 21
    assert [p["name"] for p in data["positions"]] == [
        "long-10x", "long-25x", "long-50x", "short-10x", "short-25x", "short-50x",
    ]  # fmt: skip
    probs = res.daily[MODELS].to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    for side in ("long", "short"):  # the same paths for every leverage: more never liquidates less
        part = res.daily[res.daily["position"].str.startswith(side)]
        for col in [*MODELS, "liquidated_wicks", "liquidated_closes"]:
            per_day = part[col].to_numpy(dtype=float).reshape(21, 3)
            assert (np.diff(per_day, axis=1) >= 0).all(), (side, col)
    for pos in data["positions"]:
        clim = pos["forecasts"]["climatology"]
        assert clim["brier_skill"] == 0.0
        assert clim["mean_predicted"] == pytest.approx(pos["climatology"], rel=1e-12)
        assert pos["realised"]["frequency_wicks"] >= pos["realised"]["frequency_closes"]
        assert sum(r["days"] for r in pos["forecasts"]["garch"]["reliability"]) == 21
    assert data["fits"]["garch"][0]["fitted_before"] == "2022-01-01"
    again = stress.backtest([BTC_FILE], **SHORT)
    pd.testing.assert_frame_equal(again.daily, res.daily)
    assert json_text(again.to_dict() | {"elapsed_seconds": 0}) == json_text(
        data | {"elapsed_seconds": 0}
    )


def test_refitting_refits_on_the_data_before_each_block_of_days():
    data = backtest(BTC_FILE, test="2022-01-01:2022-01-10", paths=16, refit_days=4).to_dict()
    befores = [f["fitted_before"] for f in data["fits"]["garch"]]
    assert befores == ["2022-01-01", "2022-01-05", "2022-01-09"]
    assert data["fits"]["fhs"] == data["fits"]["garch"]  # one fit, two innovation laws
    assert data["fits"]["garch"][1]["returns"] > data["fits"]["garch"][0]["returns"]


# ---------------------------------------------------------------------------------------------
# Bad options: one line naming the option


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"test": "2021-06-01:2021-12-31"}, "test: expected a window after train"),
        ({"leverages": "10,200"}, "leverages: BTC allows at most 125x for 10,000 USDT, got 200x"),
        ({"leverages": "ten"}, "leverages: expected numbers like 10,25,50"),
        ({"sides": "up"}, "sides: expected some of long, short, got 'up'"),
        ({"models": "garch,arima"}, "models: expected some of garch, fhs"),
        ({"asset": "ETH"}, "asset: expected one of BTC"),
        ({"test": "2030-01-01:2030-01-31"}, "test: expected whole days of prices in 2030-01-01"),
        ({"test": "2022-01-01"}, "test: expected FIRST:LAST dates"),
        ({"paths": 0}, "paths: expected at least 1"),
        ({"notional": -5.0}, "notional: expected a positive number"),
        ({"notional": 1e9}, "notional: expected at most 10,000,000 USDT"),
        ({"refit_days": 0}, "refit_days: expected at least 1"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(options, fragment):
    with pytest.raises(ConfigError) as info:
        backtest([BTC_FILE], **({"paths": 16} | options))
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_file_without_wicks_needs_closes_only(tmp_path):
    frame = pd.read_csv(BTC_FILE).loc[:, ["open_time_utc", "close"]]
    frame = frame[frame["open_time_utc"] >= "2021-06-01"].iloc[: 24 * 230]
    path = tmp_path / "BTCUSDT.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ConfigError, match="expected high and low columns .* use closes_only"):
        backtest([path], train="2021-06-01:2021-12-31", test="2022-01-01:2022-01-05")
    data = backtest(
        [path], train="2021-06-01:2021-12-31", test="2022-01-01:2022-01-05", paths=16,
        closes_only=True, models="gbm",
    ).to_dict()  # fmt: skip
    assert not data["has_wicks"] and data["realised_from"] == "closes"


@pytest.mark.slow
def test_the_full_default_evaluation_is_well_formed():
    """The README's run: 2018-2021 fits, every day of 2022-2023 (about half a minute)."""
    data = backtest([BTC_FILE]).to_dict()
    assert data["test"]["days"] == 728 and data["paths"] == 2000
    for pos in data["positions"]:
        real = pos["realised"]
        assert real["ci"][0] <= real["frequency"] <= real["ci"][1]
        for model in MODELS:
            f = pos["forecasts"][model]
            assert 0 <= f["mean_predicted"] <= 1 and 0 <= f["coverage"]["p_value"] <= 1


def test_a_gbm_day_on_5_minute_steps_meets_the_barrier_as_brownian_motion_does():
    """gbm's day is Brownian motion watched every 5 minutes: the reflection principle with
    Broadie-Glasserman-Kou's shift of the barrier by 0.5826 sd of a step (4 SE)."""
    window = (1_514_764_800 * 10**9, 1_640_995_200 * 10**9)  # 2018-2021
    gbm = gbm_forecaster(read_prices(BTC_FILE), window, 1, steps_per_bar=12)
    n = 20_000
    low, high = day_extremes(gbm.day_spec(0), n, 24, block_rng(3, 0))
    s2 = float(gbm.sigma2[0])  # per hour
    sd, mu, step_sd = np.sqrt(24 * s2), -0.5 * s2 * 24, np.sqrt(s2 / 12)
    for b in (-0.03, -0.06):
        shifted = b - 0.5826 * step_sd
        p = norm.cdf((shifted - mu) / sd) + np.exp(2 * (mu / 24) * shifted / s2) * norm.cdf(
            (shifted + mu) / sd
        )
        got = np.mean(low <= b)
        assert abs(got - p) < 4 * np.sqrt(p * (1 - p) / n), (b, got, p)
        # a short's barrier above: the same by symmetry up to the drift's sign
        up = -shifted
        q = norm.cdf((mu - up) / sd) + np.exp(2 * (mu / 24) * up / s2) * norm.cdf((-up - mu) / sd)
        assert abs(np.mean(high >= -b) - q) < 4 * np.sqrt(q * (1 - q) / n), (b, q)
