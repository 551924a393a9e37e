"""Historical replay: every window of the history run deterministically (stress.paths.replay)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import stress

START = pd.Timestamp("2021-03-01 00:00")
DAYS = 30
CRASH = pd.Timestamp("2021-03-15 13:00")  # the bar stamped 13:00 closes 30 % down


def write_history(path: Path, drop: tuple[pd.Timestamp, ...] = ()) -> pd.DataFrame:
    """Hourly closes around 100 with a gentle deterministic wiggle and one crash."""
    stamps = pd.date_range(START, periods=DAYS * 24, freq="h")
    close = 100.0 * np.exp(0.002 * np.sin(np.arange(stamps.size)))
    close[stamps >= CRASH] *= 0.7
    frame = pd.DataFrame({"open_time_utc": stamps, "close": close})
    frame = frame[~frame["open_time_utc"].isin(drop)]
    frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    return frame


def config(file: Path, **model) -> dict:
    m = {"type": "replay", "history": [str(file)], "assets": {"XYZ": {"price": 50.0}}}
    m.update(model)
    sim = {"horizon_days": 1, "steps_per_day": 24}
    sim.update(m.pop("simulation", {}))
    return {
        "name": "replay",
        "simulation": sim,
        "model": m,
        "account": {"wallet": 1000},
        "positions": [
            {"id": "lev", "asset": "XYZ", "side": "long", "notional": 5000, "leverage": 10}
        ],
        "modes": ["isolated"],
    }


@pytest.fixture
def history(tmp_path) -> Path:
    path = tmp_path / "XYZ-USDT_1h.csv"
    write_history(path)
    return path


def test_window_count_and_dates(history):
    """Prices run from 01:00 on day 1 (the first bar's close) to 00:00 after the last day:
    midnight windows start on days 2 .. DAYS, each needing the next midnight's price."""
    cfg = stress.prepare(config(history)).config
    assert cfg.simulation.paths == DAYS - 1
    info = stress.run(cfg).to_dict()["history"]
    assert info["windows"] == DAYS - 1
    assert info["first_window_start"] == "2021-03-02T00:00:00+00:00"
    assert info["last_window_start"] == f"2021-03-{DAYS:02d}T00:00:00+00:00"


def test_stride_sets_the_window_starts(history):
    cfg = stress.prepare(config(history, stride_hours=6)).config
    # price times 01:00 day 1 .. 00:00 day DAYS+1; starts on 06/12/18/00 h with 24 h after them
    assert cfg.simulation.paths == (DAYS - 1) * 4  # 06:00 on day 1 .. 00:00 on day DAYS
    assert stress.generate_paths(cfg).shape == (cfg.simulation.paths, 25, 1)


def test_windows_replay_returns_from_the_mark(history):
    frame = write_history(history)
    cfg = stress.prepare(config(history)).config
    prices = stress.generate_paths(cfg)
    assert (prices[:, 0, 0] == 50.0).all()
    # window 0 starts at 2021-03-02 00:00, the close of the bar stamped 2021-03-01 23:00
    closes = frame["close"].to_numpy()
    np.testing.assert_allclose(prices[0, :, 0], 50.0 * closes[23:48] / closes[23], rtol=1e-12)


def test_the_crash_is_the_worst_window_with_its_date(history):
    res = stress.run(config(history))
    iso = res.to_dict()["portfolios"][0]["modes"]["isolated"]
    worst = iso["worst_windows"]
    assert len(worst) == 10
    assert worst[0]["start"] == "2021-03-15T00:00:00+00:00"
    assert worst[0]["liquidated"] is True
    # the crash bar stamped 13:00 closes at 14:00: that is the first price 30 % down
    assert worst[0]["liquidation_time"] == "2021-03-15T14:00:00+00:00"
    assert worst[0]["loss"] == pytest.approx(500.0)  # the whole isolated margin
    assert worst[1]["liquidated"] is False
    assert iso["p_liquidation"] == pytest.approx(1 / (DAYS - 1))
    assert [w["loss"] for w in worst] == sorted((w["loss"] for w in worst), reverse=True)


def test_seed_does_nothing(history):
    a = stress.run(config(history), seed=1).summary
    b = stress.run(config(history), seed=2).summary
    assert a.equals(b)


def test_outage_hours_carry_the_last_close(tmp_path):
    path = tmp_path / "XYZ-USDT_1h.csv"
    gap = tuple(pd.date_range("2021-03-10 05:00", periods=3, freq="h"))
    frame = write_history(path, drop=gap)
    cfg = stress.prepare(config(path)).config
    assert cfg.simulation.paths == DAYS - 1  # calendar windows: the outage removes none
    day = stress.generate_paths(cfg)[8, :, 0]  # the window of 2021-03-10
    c = frame.set_index("open_time_utc")["close"]
    before = c[pd.Timestamp("2021-03-10 04:00")]  # the price at 05:00
    base = c[pd.Timestamp("2021-03-09 23:00")]
    np.testing.assert_allclose(day[5:9], 50.0 * before / base)  # 05:00 held to 08:00
    assert day[9] != day[8]


def test_shipped_config_finds_the_covid_crash():
    res = stress.run(ROOT / "configs" / "replay_btc_long.yaml")
    data = res.to_dict()
    assert data["model"] == "replay" and data["paths"] == data["history"]["windows"]
    starts = [w["start"][:10] for w in data["portfolios"][0]["modes"]["isolated"]["worst_windows"]]
    assert starts[0] == "2020-03-12"
    assert "2021-05-19" in starts


def test_chunks_do_not_change_replay(history):
    a = stress.run(config(history), chunk_paths=256).summary
    b = stress.run(config(history), chunk_paths=512).summary
    assert a.equals(b)


def bad(path, *parts, **model):
    with pytest.raises(stress.ConfigError) as info:
        stress.prepare(config(path, **model))
    text = str(info.value)
    assert "\n" not in text
    for part in parts:
        assert part in text, text


def test_bad_input(history):
    bad(history, "model.history[0]: no such file: missing.csv", history=["missing.csv"])
    bad(history, "model.history: too short for the horizon", simulation={"horizon_days": 40})
    bad(
        history,
        "simulation.steps_per_day: expected a divisor of 24",
        simulation={"steps_per_day": 96},
    )
    bad(history, "model.stride_hours: expected a whole number of bars", stride_hours=1.5)
    bad(history, "model.stride_hours: expected a number > 0", stride_hours=0)
    bad(history, "model.block_hours: only used by model type bootstrap", block_hours=24)
    bad(
        history,
        "model.assets.XYZ.drift: not used by model type replay",
        assets={"XYZ": {"price": 1.0, "drift": 0.1}},
    )
    with_paths = config(history)
    with_paths["simulation"]["paths"] = 100
    with pytest.raises(stress.ConfigError, match=r"simulation\.paths: not used by model type"):
        stress.prepare(with_paths)
    with pytest.raises(stress.ConfigError, match=r"paths: not used by model type replay"):
        stress.run(config(history), paths=10)
