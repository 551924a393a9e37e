"""Per-path results boiled down to what a figure draws (numpy only, no plotly).

Nothing here keeps per-path arrays: figures get quantile bands on a thinned time axis,
histogram counts, and probabilities, so the page size does not grow with the path count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stress.analysis.metrics import Z95
from stress.margin.engine import book_equity_paths
from stress.margin.layout import build_layout
from stress.portfolios.resolve import market_tables

if TYPE_CHECKING:
    from stress.pipeline.result import RunResult

FAN_QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
MAX_TIME_POINTS = 300
"""Points per time series: smooth at any screen width, small enough to embed."""
EQUITY_CHUNK = 100
"""Sample paths marked at once for the equity fan (every step of every bucket is held)."""
LOSS_BINS = 80


@dataclass(frozen=True)
class TimeAxis:
    """The thinned time axis shared by every time-series figure.

    `steps` (n_points,) are simulation step indices, `x` (n_points,) the same in `unit`.
    """

    steps: np.ndarray
    x: np.ndarray
    unit: str  # "hours" | "days"


def time_axis(n_steps: int, step_hours: float, max_points: int = MAX_TIME_POINTS) -> TimeAxis:
    """Up to `max_points + 1` evenly spread steps, always including the first and the last."""
    n = min(n_steps + 1, max_points + 1)
    steps = np.unique(np.round(np.linspace(0, n_steps, n)).astype(np.int64))
    horizon_hours = n_steps * step_hours
    # hours read better for a short horizon; days once the hour numbers pass a hundred or so
    unit, scale = ("hours", 1.0) if horizon_hours <= 48 + 1e-9 else ("days", 1.0 / 24.0)
    return TimeAxis(steps=steps, x=steps * step_hours * scale, unit=unit)


def quantile_bands(values: np.ndarray, axis_steps: np.ndarray) -> np.ndarray:
    """Fan-chart quantiles across paths.

    Parameters
    ----------
    values : (n_sample, n_steps + 1) array, one row per path
    axis_steps : (n_points,) step indices to keep

    Returns
    -------
    (len(FAN_QUANTILES), n_points) array
    """
    return np.quantile(values[:, axis_steps], FAN_QUANTILES, axis=0)


def wilson_bands(k: np.ndarray, n: int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised 95 % Wilson interval of k / n; k of any shape, n >= 1."""
    p = np.asarray(k, dtype=np.float64) / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def cumulative_liquidation(result: RunResult, k: int) -> tuple[np.ndarray, int]:
    """Paths on which book k was liquidated at or before each step, over ALL paths.

    Returns
    -------
    counts : (n_steps + 1,) float, cumulative
    n : the number of paths they are out of
    """
    n_steps = result.grid.n_steps
    if result.stats is not None:  # accumulated over every path, even when few are kept
        return np.cumsum(result.stats.ttl_hist[k]).astype(np.float64), int(result.stats.n)
    first = result.results.first_liq_step[:, k]
    hit = first[first >= 0]
    counts = np.bincount(hit, minlength=n_steps + 1)[: n_steps + 1]
    return np.cumsum(counts).astype(np.float64), int(first.shape[0])


def _rebin(counts: np.ndarray, lo: float, width: float, bins: int):
    """Merge neighbouring fine bins (counts (m, n_fine) from edge `lo`, width `width`) into at
    most `bins` coarse ones spanning the occupied range; returns (edges, coarse counts)."""
    occupied = np.flatnonzero(counts.sum(axis=0))
    i0, i1 = int(occupied[0]), int(occupied[-1]) + 1
    group = max(1, -(-(i1 - i0) // bins))
    n_coarse = -(-(i1 - i0) // group)
    padded = np.zeros((counts.shape[0], n_coarse * group))
    padded[:, : i1 - i0] = counts[:, i0:i1]
    coarse = padded.reshape(counts.shape[0], n_coarse, group).sum(axis=2)
    edges = lo + (i0 + group * np.arange(n_coarse + 1)) * width
    return edges, coarse


def loss_histogram(
    result: RunResult, books: list[int], bins: int = LOSS_BINS
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Common loss bins for several books of one portfolio, and each one's share of paths.

    Uses the run's loss histogram over every path when there is one (bins W/1024 wide, merged
    here into at most `bins`), else the kept per-path losses.

    Returns
    -------
    edges : (n_bins + 1,) array in USDT
    shares : list of (n_bins,) arrays, one per book, each summing to 1
    lumped : the largest share of paths (over the books) whose profit went beyond the
        histogram's range and is counted in the first bin
    """
    stats = result.stats
    if stats is not None and len({float(stats.loss_scale[k]) for k in books}) == 1:
        scale = float(stats.loss_scale[books[0]])
        fine = stats.loss_count[books].astype(np.float64)
        # the outermost bins hold what fell beyond [-W, W]: losses cannot exceed W, and a profit
        # beyond W is counted in the lowest bin (the figure says how many)
        lumped = float(fine[:, 0].max()) / stats.n
        fine[:, 1] += fine[:, 0]
        fine[:, -2] += fine[:, -1]
        n_fine = fine.shape[1] - 2
        edges, coarse = _rebin(fine[:, 1:-1], -scale, 2.0 * scale / n_fine, bins)
        return edges, [c / stats.n for c in coarse], lumped
    losses = [book_loss(result, k) for k in books]
    lo = min(float(x.min()) for x in losses)
    hi = max(float(x.max()) for x in losses)
    if hi - lo < 1e-9 * max(1.0, abs(hi)):
        lo, hi = lo - 0.5, hi + 0.5  # one value everywhere: give the bin a visible width
    edges = np.linspace(lo, hi, bins + 1)
    return edges, [np.histogram(x, bins=edges)[0] / x.shape[0] for x in losses], 0.0


def book_loss(result: RunResult, k: int) -> np.ndarray:
    """Loss of book k on every kept path, (n_kept,); one column, not the (n, K) matrix."""
    return result.layout.book_initial_equity[k] - result.results.final_equity[:, k]


def cross_members(book) -> list[int]:
    """Positions (indices into book.positions) that share the book's cross bucket."""
    if book.mode == "isolated":
        return []
    if book.mode == "cross":
        return list(range(len(book.positions)))
    return [j for j, p in enumerate(book.positions) if p.margin_mode == "cross"]


def trigger_counts(result: RunResult, k: int) -> tuple[int, dict[str, int]]:
    """Cross-bucket liquidations of book k and how many each position's move set off.

    Returns
    -------
    n_liquidations : paths on which the cross bucket was liquidated
    counts : {position id: liquidations it triggered}, in the book's position order
    """
    book = result.layout.books[k]
    members = cross_members(book)
    if not members:
        return 0, {}
    first = int(result.layout.book_first_position[k])
    cols = [first + j for j in members]
    # every member of a bucket is liquidated together, so any member's count is the bucket's
    if result.stats is not None:
        n_liq = int(result.stats.pos_liq[cols[0]])
        counts = result.stats.pos_trig[cols]
    else:
        liquidated = result.results.pos_liquidated[:, cols[0]]
        n_liq = int(liquidated.sum())
        counts = result.results.pos_triggered[:, cols][liquidated].sum(axis=0)
    return n_liq, {book.positions[j].id: int(c) for j, c in zip(members, counts, strict=True)}


def detail_equity_bands(
    result: RunResult, port_indices: list[int], axis_steps: np.ndarray
) -> dict[tuple[int, str], np.ndarray]:
    """Equity fan quantiles of the chosen portfolios' books along the sampled paths.

    Only the chosen portfolios are re-marked (a layout of just them), a few sample paths at a
    time, so a sweep of thousands of portfolios costs no more than three.

    Returns
    -------
    {(portfolio index, mode): (len(FAN_QUANTILES), n_points) array}
    """
    cfg = result.config
    tables = market_tables(cfg)
    s0 = np.array([a.price for a in cfg.model.assets.values()], dtype=float)
    chosen = [result.portfolios[i] for i in port_indices]
    layout = build_layout(chosen, list(cfg.modes), [tables[a] for a in cfg.model.assets], s0)
    sample = result.sample_prices
    thinned = []
    for start in range(0, sample.shape[0], EQUITY_CHUNK):
        equity = book_equity_paths(layout, result.rules, sample[start : start + EQUITY_CHUNK])
        thinned.append(equity[:, :, axis_steps])
    equity = np.concatenate(thinned)  # (n_sample, n_books, n_points)
    bands = np.quantile(equity, FAN_QUANTILES, axis=0)  # (5, n_books, n_points)
    return {
        (port_indices[book.portfolio], book.mode): bands[:, k, :]
        for k, book in enumerate(layout.books)
    }
