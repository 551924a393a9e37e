"""Whole UTC days of a price history: where each day starts and how far it went either way.

A day runs from midnight UTC to the next midnight and holds the bars stamped in it (a bar's stamp
is its open; its close is the price at the end of the bar). Per day:

- ``entry``: the price at midnight, the close of the bar before the day (what a forecast made
  with the data up to the day sees last); when that bar is missing (an outage across midnight),
  the day's first open if the file has opens.
- ``low``, ``high``: the lowest bar low and highest bar high of the day (the wicks), NaN when the
  file has no ``high``/``low``; ``close_low``, ``close_high``: the lowest and highest close.
- A day is kept only when it is over in the file (its last bar, stamped a bar before the next
  midnight, is there) and has an entry. A day missing bars inside it (an exchange outage) is kept
  and counted in ``outage_days``: nothing traded in the missing hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stress.config.times import NS_PER_DAY
from stress.errors import ConfigError
from stress.history.prices import PriceHistory


@dataclass(frozen=True)
class Days:
    """The kept days of a window (module docstring), each array of shape (n_days,).

    Attributes
    ----------
    start : int64 ns of each day's midnight (UTC)
    entry, low, high, close_low, close_high : float64
    bars : int64, the bars of each day
    bars_per_day : int, what a whole day has
    has_wicks : whether ``low`` and ``high`` come from the file (else NaN)
    """

    start: np.ndarray
    entry: np.ndarray
    low: np.ndarray
    high: np.ndarray
    close_low: np.ndarray
    close_high: np.ndarray
    bars: np.ndarray
    bars_per_day: int
    has_wicks: bool

    @property
    def n(self) -> int:
        return int(self.start.shape[0])

    @property
    def outage_days(self) -> int:
        """Kept days with fewer bars than a whole day."""
        return int(np.sum(self.bars < self.bars_per_day))

    def extremes(self, wicks: bool) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) price of each day: bar lows and highs, or closes only."""
        if wicks and not self.has_wicks:
            raise ConfigError("wicks: the price file has no high and low columns")
        return (self.low, self.high) if wicks else (self.close_low, self.close_high)


def bar_ns(history: PriceHistory) -> int:
    """The bar: the most common spacing of the stamps, which must divide a day."""
    values, counts = np.unique(np.diff(history.times), return_counts=True)
    bar = int(values[np.argmax(counts)])
    if NS_PER_DAY % bar:
        raise ConfigError(
            f"{history.source}: expected bars that divide a day (1 h, 4 h, ...), got bars of "
            f"{bar / 3.6e12:g} h"
        )
    return bar


def _entry(history: PriceHistory, first: np.ndarray, day: np.ndarray, bar: int) -> np.ndarray:
    """The price at each day's midnight (module docstring); NaN where there is none."""
    t = history.times
    entry = np.full(first.shape, np.nan)
    prev = first - 1
    ok = (prev >= 0) & (t[np.maximum(prev, 0)] == day - bar)
    entry[ok] = history.close[prev[ok]]
    if history.open is not None:
        at_midnight = ~ok & (t[first] == day)
        entry[at_midnight] = history.open[first[at_midnight]]
    return entry


def daily_extremes(history: PriceHistory, since: int, until: int) -> Days:
    """The kept days (module docstring) whose midnight is in ``[since, until)`` (ns)."""
    bar = bar_ns(history)
    t = history.times
    day_of = t // NS_PER_DAY * NS_PER_DAY
    lo, hi = np.searchsorted(day_of, [since, until])  # stamps are increasing: one stretch
    if lo == hi:
        return _empty(NS_PER_DAY // bar, history.low is not None)
    days, offsets = np.unique(day_of[lo:hi], return_index=True)
    first = offsets + lo
    last = np.append(offsets[1:], hi - lo) - 1 + lo

    def reduce(values: np.ndarray | None, how: np.ufunc) -> np.ndarray:
        if values is None:
            return np.full(days.shape, np.nan)
        return how.reduceat(values[lo:hi], offsets)

    entry = _entry(history, first, days, bar)
    whole = (t[last] == days + NS_PER_DAY - bar) & np.isfinite(entry)
    return Days(
        start=days[whole].astype(np.int64),
        entry=entry[whole],
        low=reduce(history.low, np.minimum)[whole],
        high=reduce(history.high, np.maximum)[whole],
        close_low=reduce(history.close, np.minimum)[whole],
        close_high=reduce(history.close, np.maximum)[whole],
        bars=(last - first + 1).astype(np.int64)[whole],
        bars_per_day=NS_PER_DAY // bar,
        has_wicks=history.low is not None,
    )


def _empty(bars_per_day: int, has_wicks: bool) -> Days:
    none = np.empty(0)
    count = np.empty(0, np.int64)
    return Days(count, none, none, none, none, none, count, bars_per_day, has_wicks)
