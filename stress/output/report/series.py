"""Per-path results boiled down to what a figure draws (numpy only, no plotly).

Nothing here keeps per-path arrays: figures get cumulative counts on the thinned time axis,
histogram counts, and probabilities, so the page size does not grow with the path count. The
fan charts' bands and axis come from the run (`stress.analysis.detail`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stress.portfolios.modes import isolated_in

if TYPE_CHECKING:
    from stress.pipeline.result import RunResult

LOSS_BINS = 80


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
        # shares of each book's total: the path count, or under importance sampling the sum of
        # the weights (near it, not equal), so that the shares still sum to 1
        total = fine.sum(axis=1)
        # the outermost bins hold what fell beyond [-W, W]: losses cannot exceed W, and a profit
        # beyond W is counted in the lowest bin (the figure says how many)
        lumped = float((fine[:, 0] / total).max())
        fine[:, 1] += fine[:, 0]
        fine[:, -2] += fine[:, -1]
        n_fine = fine.shape[1] - 2
        edges, coarse = _rebin(fine[:, 1:-1], -scale, 2.0 * scale / n_fine, bins)
        return edges, [c / t for c, t in zip(coarse, total, strict=True)], lumped
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
    return [j for j, p in enumerate(book.positions) if not isolated_in(book.mode, p)]


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
    if result.stats is not None:  # weighted sums (floats) under importance sampling
        n_liq = result.stats.pos_liq[cols[0]].item()
        counts = result.stats.pos_trig[cols]
    else:
        liquidated = result.results.pos_liquidated[:, cols[0]]
        n_liq = int(liquidated.sum())
        counts = result.results.pos_triggered[:, cols][liquidated].sum(axis=0)
    return n_liq, {book.positions[j].id: c.item() for j, c in zip(members, counts, strict=True)}
