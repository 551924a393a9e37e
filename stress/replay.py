"""Historical replay: every window of the horizon's length in the history, as a price path.

``model: {type: replay, history: [...], stride_hours: 24}``. Window ``w`` starts at the ``w``-th
price time of the history that is a whole multiple of ``stride_hours`` after 1970-01-01 00:00 UTC
(with the default 24: every midnight UTC) and whose whole horizon lies in the history; it runs
deterministically through every portfolio and mode like a simulated path. Its step ``j`` is the
close ``j * bars_per_step`` bars after the start, scaled so that step 0 is the configured mark:
returns are replayed, not levels. The seed does nothing; ``simulation.paths`` is the number of
windows (set when the config is loaded).

Windows overlap when the horizon is longer than the stride, so they are not independent samples:
the confidence interval of ``p_liquidation`` (which assumes independent paths) is too narrow.
Hourly closes miss the wicks inside an hour, so a replay sees fewer liquidations than a mark price
watched continuously would (most for high leverage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stress.historical import NS_PER_HOUR, History

WORST_WINDOWS = 10
"""Windows listed per portfolio and mode in summary.json."""


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


def window_starts(history: History, horizon_bars: int, stride_hours: float) -> np.ndarray:
    """Grid indices of the windows: price times on the stride whose horizon is in the history."""
    times = history.price_times
    stride = int(round(stride_hours * NS_PER_HOUR))
    last = times.size - 1 - horizon_bars
    if last < 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(times[: last + 1] % stride == 0).astype(np.int64)


def fill_windows(out: np.ndarray, spec: ReplaySpec, s0: np.ndarray, first: int) -> None:
    """Write windows ``[first, first + m)`` into ``out``, shape (m, n_steps + 1, n_assets)."""
    m = out.shape[0]
    starts = spec.starts[first : first + m]
    idx = starts[:, None] + np.arange(spec.n_steps + 1) * spec.bars_per_step
    np.divide(spec.closes[idx], spec.closes[starts][:, None, :], out=out)
    out *= s0
    out[:, 0, :] = s0  # exactly the mark, not mark * (c / c)


def _book_exposure(layout) -> tuple[np.ndarray, np.ndarray]:
    """Each book's PnL as ``prices @ q - c``: q (n_assets, K) quantities, c (K,) cost."""
    n_assets = layout.tier_cap.shape[0]
    q = np.zeros((n_assets, layout.n_books))
    c = np.zeros(layout.n_books)
    for k, book in enumerate(layout.books):
        first = int(layout.book_first_position[k])
        for p in range(first, first + len(book.positions)):
            q[layout.pos_asset[p], k] += layout.pos_qty[p]
            c[k] += layout.pos_qty[p] * layout.pos_entry[p]
    return q, c


def worst_pnl(spec: ReplaySpec, s0: np.ndarray, layout, n_windows: int) -> np.ndarray:
    """The lowest unrealised PnL of each book's positions in each window, as if never
    liquidated (how deep the window went), shape (n_windows, K).

    Computed in slices of windows so memory stays small for many windows and books.
    """
    q, c = _book_exposure(layout)
    out = np.empty((n_windows, layout.n_books))
    rows = max(1, 4_000_000 // ((spec.n_steps + 1) * max(1, layout.n_books)))
    for first in range(0, n_windows, rows):
        m = min(rows, n_windows - first)
        prices = np.empty((m, spec.n_steps + 1, s0.size))
        fill_windows(prices, spec, s0, first)
        out[first : first + m] = (prices @ q).min(axis=1) - c
    return out


def worst_windows(
    spec: ReplaySpec,
    loss: np.ndarray,
    first_liq_step: np.ndarray,
    deepest: np.ndarray,
    n: int = WORST_WINDOWS,
) -> list[dict[str, Any]]:
    """The ``n`` windows with the largest loss of one book, largest first.

    Equal losses (every liquidation of an isolated position loses its whole margin) are ranked
    by how deep the window went (``worst_pnl``, lowest first), then by date.

    Parameters
    ----------
    loss, first_liq_step, deepest : ndarray, shape (n_windows_ranked,)
        Per-window results of the book, windows ``0 ..`` in order.
    """
    order = np.lexsort((np.arange(loss.size), deepest, -loss))[:n]
    out = []
    for w in order:
        step = int(first_liq_step[w])
        end = spec.time_at(int(w), spec.n_steps)
        out.append(
            {
                "start": spec.start_time(int(w)).isoformat(),
                "end": end.isoformat(),
                "loss": float(loss[w]),
                "liquidated": step >= 0,
                "liquidation_time": spec.time_at(int(w), step).isoformat() if step >= 0 else None,
                "worst_pnl": float(deepest[w]),
            }
        )
    return out


def add_worst_windows(
    metrics: list[dict], spec: ReplaySpec, s0: np.ndarray, results, layout
) -> None:
    """Put each book's worst windows into its metrics (``worst_windows``, summary.json).

    Ranked over the windows whose per-path results the run kept: all of them unless the run's
    memory budget was exceeded (a very large sweep over many windows), in which case
    ``worst_windows_ranked`` says over how many leading windows.
    """
    loss = results.loss(layout)
    deepest = worst_pnl(spec, s0, layout, loss.shape[0])
    for k, m in enumerate(metrics):
        m["worst_windows"] = worst_windows(
            spec, loss[:, k], results.first_liq_step[:, k], deepest[:, k]
        )
        m["worst_windows_ranked"] = int(loss.shape[0])
