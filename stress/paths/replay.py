"""Historical replay: every window of the horizon's length in the history, as a price path.

``model: {type: replay, history: [...], stride_hours: 24}``. Window ``w`` starts at the ``w``-th
price time of the history that is a whole multiple of ``stride_hours`` after 1970-01-01 00:00 UTC
(with the default 24: every midnight UTC) and whose whole horizon lies in the history; it runs
deterministically through every portfolio and mode like a simulated path. Its step ``j`` is the
close ``j * bars_per_step`` bars after the start, scaled so that step 0 is the configured mark:
returns are replayed, not levels. The seed does nothing; ``simulation.paths`` is the number of
windows (set by `stress.pipeline.prepare`).

Windows overlap when the horizon is longer than the stride, so they are not independent samples:
the confidence interval of ``p_liquidation`` (which assumes independent paths) is too narrow.
Hourly closes miss the wicks inside an hour, so a replay sees fewer liquidations than a mark price
watched continuously would (most for high leverage). With ``wicks: true`` (files with ``high``
and ``low``) each bar is three marks instead, a third of a bar apart: its two extremes, then its
close. The order of the extremes follows the bar: a bar that closed at or above the previous
close went down to its low first, then up to its high; one that closed lower, the other way. So
every position meets its adverse extreme (a long its low, a short its high) at a mark. With
several assets the extremes of every asset are taken at the same two marks: what a bar's
extremes were is data, when in the hour each came is not, and this puts them together (a
cross book holding opposite sides may meet both its worst prices at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stress.history.load import WICK_MARKS


@dataclass(frozen=True)
class ReplaySpec:
    """The windows of a replay run.

    Attributes
    ----------
    closes : ndarray, shape (n_bars, n_assets)
        Closes on the history's regular grid (outages forward-filled).
    price_times : ndarray, shape (n_bars,), int64
    starts : ndarray, shape (n_windows,), int64
        Grid index of each window's first price.
    bars_per_step : int
    n_steps : int
    lows, highs : ndarray, shape (n_bars, n_assets), or None
        With wicks: each bar's extremes on the grid (then a step is a third of a bar).
    """

    closes: np.ndarray
    price_times: np.ndarray
    starts: np.ndarray
    bars_per_step: int
    n_steps: int
    lows: np.ndarray | None = None
    highs: np.ndarray | None = None

    @property
    def wicks(self) -> bool:
        return self.lows is not None

    @property
    def n_windows(self) -> int:
        return int(self.starts.size)

    def start_time(self, w: int) -> pd.Timestamp:
        return pd.Timestamp(int(self.price_times[self.starts[w]]), tz="UTC")

    def time_at(self, w: int, step: int) -> pd.Timestamp:
        """The price time of a step (with wicks: the close of the bar the mark is in)."""
        bars = -(-step // WICK_MARKS) if self.wicks else step * self.bars_per_step
        return pd.Timestamp(int(self.price_times[self.starts[w] + bars]), tz="UTC")


def wick_marks(spec: ReplaySpec, starts: np.ndarray) -> np.ndarray:
    """The marks after each window's first price, three a bar (module docstring), shape
    (m, n_steps, n_assets), unscaled."""
    n_bars = -(-spec.n_steps // WICK_MARKS)
    bars = starts[:, None] + np.arange(1, n_bars + 1)
    close, before = spec.closes[bars], spec.closes[bars - 1]
    low, high = spec.lows[bars], spec.highs[bars]
    rising = close >= before
    marks = np.stack([np.where(rising, low, high), np.where(rising, high, low), close], axis=2)
    return marks.reshape(starts.size, n_bars * WICK_MARKS, -1)[:, : spec.n_steps]


def fill_windows(out: np.ndarray, spec: ReplaySpec, s0: np.ndarray, first: int) -> None:
    """Write windows ``[first, first + m)`` into ``out``, shape (m, n_steps + 1, n_assets)."""
    m = out.shape[0]
    starts = spec.starts[first : first + m]
    if spec.wicks:
        np.divide(wick_marks(spec, starts), spec.closes[starts][:, None, :], out=out[:, 1:])
        out[:, 1:] *= s0
        out[:, 0, :] = s0
        return
    idx = starts[:, None] + np.arange(spec.n_steps + 1) * spec.bars_per_step
    np.divide(spec.closes[idx], spec.closes[starts][:, None, :], out=out)
    out *= s0
    out[:, 0, :] = s0  # exactly the mark, not mark * (c / c)
