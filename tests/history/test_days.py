"""Bar ranges in price files, whole UTC days with their extremes, and the variance filter."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from stress.config.times import NS_PER_DAY
from stress.errors import ConfigError
from stress.history.days import daily_extremes
from stress.history.fitting.garch import ewma_variance, fit_garch
from stress.history.fitting.garch_filter import filter_variance
from stress.history.prices import PriceHistory, aligned_returns, read_prices

HOUR = 3600 * 10**9
DAY0 = 1_640_995_200 * 10**9  # 2022-01-01 00:00 UTC


def ohlc_file(tmp_path, rows: list[str], header: str = "timestamp,open,high,low,close"):
    path = tmp_path / "p.csv"
    stamps = [(DAY0 + h * HOUR) // 10**6 for h in range(len(rows))]  # epoch milliseconds
    lines = [header] + [f"{t},{r}" for t, r in zip(stamps, rows, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_open_high_low_are_kept_when_the_file_has_them(tmp_path):
    h = read_prices(ohlc_file(tmp_path, ["100,102,99,101"] * 31))
    assert h.open[0] == 100 and h.high[0] == 102 and h.low[0] == 99 and h.close[0] == 101
    closes = read_prices(ohlc_file(tmp_path, ["101"] * 31, header="timestamp,close"))
    assert closes.open is None and closes.high is None and closes.low is None
    high_only = read_prices(ohlc_file(tmp_path, ["102,101"] * 31, header="timestamp,high,close"))
    assert high_only.high is None and high_only.low is None  # high and low only together
    shipped = read_prices(DATA / "binance_spot_BTCUSDT_1h.csv.gz")
    assert np.all(shipped.low <= np.minimum(shipped.open, shipped.close))


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("100,102,101.5,101", "line 3: low: expected at most the bar's open and close (100)"),
        ("100,100.5,99,101", "line 3: high: expected at least the bar's open and close (101)"),
        ("100,102,,101", "line 3: low: expected a positive price, got an empty field"),
    ],
)
def test_a_bar_whose_range_does_not_hold_its_prices_is_refused(tmp_path, row, fragment):
    rows = ["100,102,99,101"] * 31
    rows[1] = row
    with pytest.raises(
        ConfigError, match="p.csv: " + fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        read_prices(ohlc_file(tmp_path, rows))


def hourly(hours: list[int], low_dip: dict[int, float] | None = None) -> PriceHistory:
    """Bars at the given hours after DAY0; close = 100 + hour / 100, high = close + 1,
    low = close - 1 unless ``low_dip`` says otherwise; open = close - 0.005."""
    t = np.array(hours, dtype=np.int64)
    close = 100.0 + t / 100.0
    low = close - 1.0
    for hour, value in (low_dip or {}).items():
        low[hours.index(hour)] = value
    return PriceHistory("X", "x.csv", DAY0 + t * HOUR, close, close - 0.005, close + 1.0, low)


def test_whole_days_their_entry_and_extremes():
    hours = list(range(0, 24)) + [h for h in range(24, 48) if h != 30] + list(range(48, 70))
    h = hourly(hours, {27: 90.0})
    days = daily_extremes(h, DAY0, DAY0 + 3 * NS_PER_DAY)
    assert days.n == 2  # the third day never ends in the file
    assert list(days.start) == [DAY0, DAY0 + NS_PER_DAY]
    # day 0 has no bar before it: its first open; day 1 the close of hour 23
    assert days.entry[0] == pytest.approx(100.0 - 0.005) and days.entry[1] == 100.23
    assert days.low[1] == 90.0 and days.close_low[1] == 100.24
    assert days.high[0] == 101.23 and days.close_high[0] == 100.23
    assert list(days.bars) == [24, 23] and days.outage_days == 1
    lo, hi = days.extremes(wicks=False)
    assert lo is days.close_low and hi is days.close_high


def test_a_day_without_an_entry_is_left_out():
    h = hourly(list(range(1, 48)))  # day 0 starts at 01:00, no open at midnight nor close before
    days = daily_extremes(h, DAY0, DAY0 + 2 * NS_PER_DAY)
    assert list(days.start) == [DAY0 + NS_PER_DAY]
    closes_only = PriceHistory("X", "x.csv", h.times, h.close)
    days = daily_extremes(closes_only, DAY0, DAY0 + 2 * NS_PER_DAY)
    assert days.n == 1 and not days.has_wicks and np.isnan(days.low).all()
    with pytest.raises(ConfigError, match="no high and low"):
        days.extremes(wicks=True)
    assert daily_extremes(h, DAY0 + 5 * NS_PER_DAY, DAY0 + 6 * NS_PER_DAY).n == 0


def test_the_filter_reproduces_the_fit_and_ewma():
    h = read_prices(DATA / "binance_spot_BTCUSDT_1h.csv.gz")
    data = aligned_returns([h], DAY0 - 365 * NS_PER_DAY, DAY0)
    fit = fit_garch(data.values, data.names, 1.0, "garch")
    x = data.values
    first = ((x[0] - fit.mu) / fit.residuals[0]) ** 2  # arch's first conditional variance
    along = filter_variance(fit, x, first)
    arch_var = ((x - fit.mu) / fit.residuals) ** 2
    np.testing.assert_allclose(along[:-1], arch_var, rtol=1e-9)
    np.testing.assert_allclose(along[-1], fit.sigma2_next, rtol=1e-9)
    ewma = fit_garch(x, data.names, 1.0, "ewma")
    sigma2, nxt = ewma_variance(x, float(ewma.beta[0]))
    along = filter_variance(ewma, x, sigma2[0])
    np.testing.assert_allclose(along[:-1], sigma2, rtol=1e-12)
    np.testing.assert_allclose(along[-1], nxt, rtol=1e-12)
    # from the fit's own forecast by default; row t uses returns before t only
    later = filter_variance(fit, x[:5])
    assert later[0, 0] == fit.sigma2_next[0]
    np.testing.assert_array_equal(filter_variance(fit, x[:3]), later[:4])
