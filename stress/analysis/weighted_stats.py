"""The run statistics of `stress.analysis.streaming` with every path weighted by ``dP/dQ``.

Under importance sampling (`stress.paths.importance`) the run keeps every path's results, and
its accumulated statistics are rebuilt here from them with each path counted as its likelihood
ratio ``w`` instead of 1: counts become sums of weights (floats), so ``count / n`` is the
weighted estimate of a probability (`stress.analysis.weighted`) wherever the statistics are
read (the per-position liquidation probabilities, the report's cumulative liquidation curve,
loss histogram and trigger shares). ``max_bad`` stays the largest on any path drawn.
"""

from __future__ import annotations

import numpy as np

from stress.analysis.streaming import StreamStats
from stress.margin.engine import PathResults
from stress.margin.layout import Layout


def _loss_bins(loss: np.ndarray, scale: np.ndarray, n_bins: int) -> np.ndarray:
    """The histogram bin of each loss (n, K), as `stress.margin.aggregate.accumulate_nb` bins:
    underflow 0, bins 1..n_bins on [-W, W], overflow n_bins + 1."""
    pos = (loss + scale) / (2.0 * scale) * n_bins
    inside = np.where(pos >= 0.0, np.floor(np.where(np.isfinite(pos), pos, 0.0)) + 1, 0)
    return np.where(pos >= n_bins, n_bins + 1, inside).astype(np.int64)


def _position_liquidations(
    layout: Layout, results: PathResults, w: np.ndarray, w_liq: np.ndarray
) -> np.ndarray:
    """Weighted liquidations per position (P,). A position of a book with one bucket is
    liquidated exactly when the book first is, so it takes the book's weight stopped there (the
    same estimate as the book's); in a book of several buckets its bucket may go later than the
    book's first, which the stopped weight cannot see, so it takes the horizon's."""
    pos_book = layout.bucket_book[layout.pos_bucket]
    single = np.bincount(layout.bucket_book, minlength=layout.n_books)[pos_book] == 1
    out = w @ results.pos_liquidated
    cols = np.flatnonzero(single)
    out[cols] = (w_liq[:, pos_book[cols]] * results.pos_liquidated[:, cols]).sum(axis=0)
    return out


def weighted_stream_stats(
    layout: Layout,
    results: PathResults,
    weights: np.ndarray,
    n_steps: int,
    liquidation_weights: np.ndarray | None = None,
) -> StreamStats:
    """`StreamStats` of every path of `results` (all of the run's), each counted ``w`` times.

    Parameters
    ----------
    layout : Layout
    results : PathResults
        Per-path results of every path of the run, (n, K) and (n, P).
    weights : ndarray (n,)
        Likelihood ratios ``dP/dQ``.
    n_steps : int
    liquidation_weights : ndarray (n, K), optional
        The ratios stopped at each book's first liquidation: they weight the liquidation counts
        and the time-to-liquidation histogram (default `weights` for every book).
    """
    partial, adl = results.partial_closes is not None, results.adl_closed is not None
    st = StreamStats.empty(layout, n_steps, partial, adl)
    w = np.asarray(weights, dtype=np.float64)
    n, k_books = results.final_equity.shape
    loss = results.loss(layout)
    liq = results.first_liq_step >= 0
    st.n = n
    w_liq = np.repeat(w[:, None], k_books, axis=1)
    if liquidation_weights is not None:
        w_liq = np.asarray(liquidation_weights, dtype=np.float64)
    st.n_liq = (w_liq * liq).sum(axis=0)
    st.n_ruin = w @ (results.final_equity <= st.ruin_level)
    st.sum_loss = w @ loss
    st.sum_bad = w @ results.bad_debt
    st.max_bad = results.bad_debt.max(axis=0)
    st.sum_fees = w @ results.fees_paid
    st.pos_liq = _position_liquidations(layout, results, w, w_liq)
    st.pos_trig = w @ results.pos_triggered
    n_bins = st.loss_count.shape[1] - 2
    bins = _loss_bins(loss, st.loss_scale, n_bins)
    st.ttl_hist = np.zeros(st.ttl_hist.shape)
    st.loss_count = np.zeros(st.loss_count.shape)
    for k in range(k_books):
        hit = liq[:, k]
        st.ttl_hist[k] = np.bincount(
            results.first_liq_step[hit, k], weights=w_liq[hit, k], minlength=n_steps + 1
        )[: n_steps + 1]
        st.loss_count[k] = np.bincount(bins[:, k], weights=w, minlength=n_bins + 2)
        st.loss_sum[k] = np.bincount(bins[:, k], weights=w * loss[:, k], minlength=n_bins + 2)
    if partial:
        st.partial_paths = w @ (results.partial_closes > 0)
        st.partial_sum = w @ results.partial_closes
        st.partial_notional_sum = w @ results.partial_notional
    if adl:
        st.adl_paths = w @ (results.adl_closed > 0)
        st.adl_liq_paths = w @ results.adl_liquidated
    return st
