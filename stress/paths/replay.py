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
watched continuously would (most for high leverage).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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
    """

    closes: np.ndarray
    price_times: np.ndarray
    starts: np.ndarray
    bars_per_step: int
    n_steps: int

    @property
    def n_windows(self) -> int:
        return int(self.starts.size)

    def start_time(self, w: int) -> pd.Timestamp:
        return pd.Timestamp(int(self.price_times[self.starts[w]]), tz="UTC")

    def time_at(self, w: int, step: int) -> pd.Timestamp:
        return pd.Timestamp(
            int(self.price_times[self.starts[w] + step * self.bars_per_step]), tz="UTC"
        )


def fill_windows(out: np.ndarray, spec: ReplaySpec, s0: np.ndarray, first: int) -> None:
    """Write windows ``[first, first + m)`` into ``out``, shape (m, n_steps + 1, n_assets)."""
    m = out.shape[0]
    starts = spec.starts[first : first + m]
    idx = starts[:, None] + np.arange(spec.n_steps + 1) * spec.bars_per_step
    np.divide(spec.closes[idx], spec.closes[starts][:, None, :], out=out)
    out *= s0
    out[:, 0, :] = s0  # exactly the mark, not mark * (c / c)
