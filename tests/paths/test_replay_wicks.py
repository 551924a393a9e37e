"""Replay with wicks: three marks a bar, its two extremes in the bar's order, then its close."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, error_of

import stress

START = pd.Timestamp("2021-03-01 00:00")


PAD = 40
"""Flat bars after the designed ones: a history needs at least 31 bars."""


def write_bars(path: Path, closes, lows, highs, drop: int | None = None) -> None:
    closes, lows, highs = (list(x) + [closes[-1]] * PAD for x in (closes, lows, highs))
    stamps = pd.date_range(START, periods=len(closes), freq="h")
    frame = pd.DataFrame(
        {"open_time_utc": stamps, "open": closes, "high": highs, "low": lows, "close": closes}
    )
    frame["open"] = np.concatenate([[closes[0]], closes[:-1]])
    frame["high"] = np.maximum(frame["high"], np.maximum(frame["open"], frame["close"]))
    frame["low"] = np.minimum(frame["low"], np.minimum(frame["open"], frame["close"]))
    if drop is not None:
        frame = frame.drop(index=drop)
    frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")


def config(file: Path, wicks: bool = True, steps_per_day: int = 72, **extra) -> dict:
    return {
        "name": "wicks",
        "simulation": {"horizon_days": 1 / 24 * 3, "steps_per_day": steps_per_day},
        "model": {
            "type": "replay",
            "history": [str(file)],
            "stride_hours": 1,
            **({"wicks": True} if wicks else {}),
            **extra,
        },
        "account": {"wallet": 1000},
        "positions": [{"asset": "XYZ", "side": "long", "notional": 5000, "leverage": 10}],
        "modes": ["isolated"],
    }


@pytest.fixture
def bars(tmp_path) -> Path:
    # closes 100, 101 (rising: low 99 then high 103), 98 (falling: high 102 then low 95), 99
    path = tmp_path / "XYZ-USDT_1h.csv"
    write_bars(path, [100, 101, 98, 99, 100], [100, 99, 95, 98, 99], [100, 103, 102, 100, 101])
    return path


def test_each_bar_is_its_extremes_in_order_then_its_close(bars):
    cfg = stress.prepare(config(bars, assets={"XYZ": {"price": 100.0}})).config
    first = stress.generate_paths(cfg)[0, :, 0]
    # the window starts at the close of the first bar (100); then bars 101, 98, 99
    assert first.tolist() == pytest.approx([100, 99, 103, 101, 102, 95, 98, 98, 100, 99])


def test_the_closes_are_the_plain_replay_and_wicks_only_add_liquidations():
    btc = str(DATA / "binance_spot_BTCUSDT_1h.csv.gz")
    model = {"type": "replay", "history": [btc], "since": "2022-01-01", "assets": {"BTC": {
        "price": 60000.0}}}  # fmt: skip
    base = {
        "name": "btc",
        "account": {"wallet": 10000},
        "positions": [{"asset": "BTC", "side": "long", "notional": 100000, "leverage": 20}],
        "modes": ["isolated"],
    }
    plain = {**base, "simulation": {"horizon_days": 1, "steps_per_day": 24}, "model": model}
    wick = {**base, "simulation": {"horizon_days": 1, "steps_per_day": 72},
            "model": {**model, "wicks": True}}  # fmt: skip
    p_plain = stress.generate_paths(plain)
    p_wick = stress.generate_paths(wick)
    np.testing.assert_array_equal(p_wick[:, ::3, :], p_plain)
    liq_plain = stress.run(plain).results.first_liq_step[:, 0] >= 0
    liq_wick = stress.run(wick).results.first_liq_step[:, 0] >= 0
    assert not (liq_plain & ~liq_wick).any()  # a close that liquidates still does
    assert liq_wick.sum() > liq_plain.sum()  # and the wicks find more


def test_an_outage_bar_has_no_range(tmp_path):
    path = tmp_path / "XYZ-USDT_1h.csv"
    write_bars(path, [100, 101, 98, 99, 100], [100, 99, 95, 98, 99], [100, 103, 102, 100, 101],
               drop=2)  # fmt: skip
    hist = stress.prepare(config(path)).history
    # grid slot 2 is the missing bar's close time: it carries the close before it
    assert hist.closes[2, 0] == hist.closes[1, 0] == 101.0
    assert hist.lows[2, 0] == hist.highs[2, 0] == 101.0
    assert (hist.lows[1, 0], hist.highs[1, 0]) == (99.0, 103.0)  # a traded bar keeps its range


def test_wicks_need_ranges_and_a_third_of_a_bar(bars, tmp_path):
    message = error_of(config(bars, steps_per_day=24), prepare=True)
    assert "simulation.steps_per_day: expected 72 with model.wicks" in message
    closes_only = tmp_path / "ABC-USDT_1h.csv"
    pd.DataFrame(
        {
            "open_time_utc": pd.date_range(START, periods=45, freq="h"),
            "close": [1.0, 2.0] * 22 + [1],
        }
    ).to_csv(closes_only, index=False, date_format="%Y-%m-%d %H:%M:%S")
    cfg = config(closes_only)
    cfg["positions"][0]["asset"] = "ABC"
    assert "model.wicks: needs files with high and low columns" in error_of(cfg, prepare=True)
    bootstrap = config(bars)
    bootstrap["model"] = {"type": "bootstrap", "history": [str(bars)], "wicks": True}
    assert "model.wicks: only used by model type replay" in error_of(bootstrap)
