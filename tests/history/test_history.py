"""Reading price files: timestamp formats, compression, alignment, gaps and every bad-file case."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, run_stress

import stress
from stress.history.prices import aligned_returns, asset_name, read_prices

HOUR_NS = 3600 * 10**9


def hours(n: int, start: str = "2021-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h", tz="UTC")


def closes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), 6)


def write_csv(path: Path, times, close, time_col: str = "open_time_utc", close_col="close"):
    """An OHLCV file like the exchanges' (ISO times unless ``times`` are numbers)."""
    frame = pd.DataFrame({time_col: times, "open": close, "high": close, "low": close})
    frame[close_col] = close
    frame["volume"] = 1.0
    if isinstance(times, pd.DatetimeIndex):
        frame[time_col] = times.strftime("%Y-%m-%d %H:%M:%S")
    frame.to_csv(path, index=False)
    return path


def test_iso_and_epoch_milliseconds_read_alike(tmp_path):
    t, c = hours(40), closes(40)
    iso = read_prices(write_csv(tmp_path / "a.csv", t, c))
    ms = t.as_unit("ms").asi8
    epoch = read_prices(write_csv(tmp_path / "b.csv", ms, c, time_col="timestamp"))
    np.testing.assert_array_equal(iso.times, epoch.times)
    np.testing.assert_array_equal(iso.close, epoch.close)
    assert iso.times[0] == pd.Timestamp("2021-01-01", tz="UTC").value


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_units_told_apart_by_size(tmp_path, unit):
    t = hours(40)
    got = read_prices(write_csv(tmp_path / "x.csv", t.as_unit(unit).asi8, closes(40), "time"))
    np.testing.assert_array_equal(got.times, t.as_unit("ns").asi8)


def test_column_names_any_case_and_iso_variants(tmp_path):
    t = hours(40)
    text = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "x.csv"
    pd.DataFrame({"Volume": 1.0, " Date ": text, "Close": closes(40)}).to_csv(path, index=False)
    got = read_prices(path)
    np.testing.assert_array_equal(got.times, t.as_unit("ns").asi8)


def test_gzip_reads_like_csv(tmp_path):
    path = write_csv(tmp_path / "x.csv", hours(40), closes(40))
    packed = tmp_path / "x.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    a, b = read_prices(path), read_prices(packed)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.close, b.close)


def test_shipped_files_read():
    btc = read_prices(DATA / "binance_spot_BTCUSDT_1h.csv.gz")
    assert btc.name == "BTC" and btc.close.size == 52_433
    step = np.diff(btc.times) // HOUR_NS
    assert (step > 1).sum() == 27 and (step[step > 1] - 1).sum() == 122  # data/README.md


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("binance_spot_BTCUSDT_1h.csv", "BTC"),
        ("binance_spot_SOLUSDT_1h.csv.gz", "SOL"),
        ("BTC-USDT_1h.csv", "BTC"),
        ("eth_usd.csv", "ETH"),
        ("SOLUSDC-1h-2023.csv", "SOL"),
        ("btc.csv", "btc"),
    ],
)
def test_asset_name_from_file_name(file, name):
    assert asset_name(file) == name


def test_inner_join_on_common_timestamps(tmp_path):
    t = hours(60)
    a = write_csv(tmp_path / "AUSDT.csv", t, closes(60, 1))
    keep = np.ones(60, bool)
    keep[[0, 30]] = False  # B starts an hour later and misses hour 30
    b = write_csv(tmp_path / "BUSDT.csv", t[keep], closes(60, 2)[keep])
    data = aligned_returns([read_prices(a), read_prices(b)])
    assert data.names == ["A", "B"]
    assert data.first_time == t[1].value and data.last_time == t[-1].value
    # 58 common bars, 57 returns, of which the one across the missing hour spans 2 h: dropped
    assert data.values.shape == (56, 2) and data.dropped == 1
    assert data.dropped_seconds == 2 * 3600
    expected = np.diff(np.log(closes(60, 1)[keep]))
    expected = np.delete(expected, np.flatnonzero(np.diff(t[keep].as_unit("ns").asi8) != HOUR_NS))
    np.testing.assert_allclose(data.values[:, 0], expected, rtol=0, atol=1e-15)


def test_returns_across_a_gap_are_dropped_not_rescaled(tmp_path):
    """A 5-hour outage with a big move across it: the move is not in the fit, scaled or not."""
    t = hours(100)
    c = closes(100, 3)
    c[60:] *= 1.5  # the price jumps during the outage
    keep = np.ones(100, bool)
    keep[56:60] = False  # bars 56..59 missing: one return spans 5 hours
    path = write_csv(tmp_path / "XUSDT.csv", t[keep], c[keep])
    res = stress.calibrate(path)
    d = res["diagnostics"]
    assert d["returns"] == 95 - 1 and d["dropped_returns"] == 1 and d["dropped_hours"] == 5
    r = np.diff(np.log(c[keep]))
    r = np.delete(r, 55)
    assert res["model"]["assets"]["X"]["vol"] == pytest.approx(r.std() * np.sqrt(8760), rel=1e-12)


def test_bar_spacing_sets_the_annualisation(tmp_path):
    t = pd.date_range("2021-01-01", periods=200, freq="4h", tz="UTC")
    c = closes(200, 4)
    res = stress.calibrate(write_csv(tmp_path / "XUSDT.csv", t, c))
    assert res["diagnostics"]["bar_hours"] == 4
    vol = np.diff(np.log(c)).std() * np.sqrt(365 * 6)
    assert res["model"]["assets"]["X"]["vol"] == pytest.approx(vol, rel=1e-12)


def test_window_keeps_since_and_the_whole_until_day(tmp_path):
    path = write_csv(tmp_path / "XUSDT.csv", hours(24 * 5), closes(24 * 5))
    res = stress.calibrate(path, since="2021-01-02", until="2021-01-03")
    d = res["diagnostics"]
    assert (d["start"], d["end"], d["returns"]) == ("2021-01-02 00:00", "2021-01-03 23:00", 47)
    assert res["model"]["assets"]["X"]["price"] == closes(24 * 5)[24 * 3 - 1]


# ---------------------------------------------------------------------------------------------
# Bad files: one ConfigError line naming the file, the line and the column


def good_frame(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {"open_time_utc": hours(n).strftime("%Y-%m-%d %H:%M:%S"), "close": closes(n)}
    ).astype(str)


def swapped(frame):
    frame.iloc[[10, 11]] = frame.iloc[[11, 10]].to_numpy()
    return frame


def duplicated(frame):
    frame.iloc[11, 0] = frame.iloc[10, 0]
    return frame


def with_close(value):
    def edit(frame):
        frame.iloc[10, 1] = value
        return frame

    return edit


def with_time(value):
    def edit(frame):
        frame.iloc[10, 0] = value
        return frame

    return edit


# (edit of a good file, substrings the message must contain)
BAD_FILES = {
    "unsorted": (swapped, ["line 13", "open_time_utc", "out of order"]),
    "duplicate": (duplicated, ["line 13", "open_time_utc", "duplicate timestamp"]),
    "zero_price": (with_close("0"), ["line 12", "close", "expected a positive price, got 0"]),
    "negative_price": (with_close("-5.5"), ["line 12", "close", "got -5.5"]),
    "text_price": (with_close("n/a"), ["line 12", "close", "got 'n/a'"]),
    "empty_price": (with_close(""), ["line 12", "close", "got an empty field"]),
    "bad_time": (with_time("yesterday"), ["line 12", "open_time_utc", "got 'yesterday'"]),
    "no_close": (lambda f: f.rename(columns={"close": "last"}), ["line 1", "missing close"]),
    "no_time": (lambda f: f.rename(columns={"open_time_utc": "when"}), ["missing timestamp"]),
    "too_short": (lambda f: f.iloc[:20], ["too little data", "at least 31 bars", "got 20"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_one_config_error_line(tmp_path, case):
    edit, parts = BAD_FILES[case]
    path = tmp_path / f"{case}.csv"
    edit(good_frame()).to_csv(path, index=False)
    with pytest.raises(stress.ConfigError) as exc:
        stress.calibrate(path)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    for part in parts:
        assert part in message, message


@pytest.mark.parametrize(
    ("content", "part"),
    [(b"", "empty file"), (b"\x1f\x8b\x08garbage", "cannot read"), (None, "no such file")],
    ids=["empty", "corrupt_gzip", "missing"],
)
def test_unreadable_file(tmp_path, content, part):
    path = tmp_path / "x.csv.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(stress.ConfigError, match=part) as exc:
        read_prices(path)
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)


def test_too_few_returns_after_the_window(tmp_path):
    path = write_csv(tmp_path / "XUSDT.csv", hours(24 * 5), closes(24 * 5))
    with pytest.raises(stress.ConfigError, match="within --since/--until, got 23"):
        stress.calibrate(path, since="2021-01-05")


def test_too_few_common_returns(tmp_path):
    a = write_csv(tmp_path / "AUSDT.csv", hours(40), closes(40))
    b = write_csv(tmp_path / "BUSDT.csv", hours(40, "2021-01-02 12:00"), closes(40))
    with pytest.raises(stress.ConfigError, match="on common timestamps, got 3$"):
        stress.calibrate([a, b])


def test_prices_that_never_move(tmp_path):
    path = write_csv(tmp_path / "XUSDT.csv", hours(40), np.full(40, 1.0))
    with pytest.raises(stress.ConfigError, match="close: expected prices that move"):
        stress.calibrate(path)


def test_trailing_blank_lines_are_not_data(tmp_path):
    path = tmp_path / "x.csv"
    good_frame().to_csv(path, index=False)
    path.write_text(path.read_text() + "\n\n")
    assert read_prices(path).close.size == 40


@pytest.mark.parametrize("case", ["unsorted", "no_close"])
def test_cli_bad_file_exits_2_with_one_line_and_writes_nothing(tmp_path, case):
    edit, parts = BAD_FILES[case]
    path = tmp_path / f"{case}.csv"
    edit(good_frame()).to_csv(path, index=False)
    proc = run_stress("calibrate", path, "-o", "model.yaml", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for part in parts:
        assert part in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
