"""Compiled bookkeeping after the kernels: buckets summed into books, statistics accumulated.

Both run over (paths x buckets) or (paths x books) arrays of a chunk; written as loops because
numpy's reduceat and bincount allocate several chunk-sized temporaries per call, which cost
more than the margin kernels themselves on thousands of portfolios.
"""

from __future__ import annotations

from numba import njit, prange

from stress.margin.kernels import CACHE


@njit(cache=CACHE, parallel=True)
def books_from_buckets_nb(
    liq_step,
    value,
    bad,
    fees,
    trigger,
    bucket_book,
    bucket_start,
    bucket_end,
    book_free,
    out_equity,
    out_first,
    out_bad,
    out_fees,
    out_pos_liq,
    out_pos_trig,
):
    """Per-bucket results (n_paths, B) -> per-book (n_paths, K) and per-position (n_paths, P).

    A book's equity is its free balance plus its buckets' values, its bad debt and fees paid
    their sums, its first liquidation the earliest of its buckets' (-1 if none).
    """
    n_paths, n_buckets = liq_step.shape
    for i in prange(n_paths):
        for k in range(book_free.shape[0]):
            out_equity[i, k] = book_free[k]
            out_bad[i, k] = 0.0
            out_fees[i, k] = 0.0
            out_first[i, k] = -1
        for b in range(n_buckets):
            k = bucket_book[b]
            out_equity[i, k] += value[i, b]
            out_bad[i, k] += bad[i, b]
            out_fees[i, k] += fees[i, b]
            s = liq_step[i, b]
            if s >= 0 and (out_first[i, k] < 0 or s < out_first[i, k]):
                out_first[i, k] = s
            for p in range(bucket_start[b], bucket_end[b]):
                out_pos_liq[i, p] = s >= 0
                out_pos_trig[i, p] = trigger[i, b] == p


@njit(cache=CACHE)
def accumulate_nb(
    loss,
    first_step,
    bad,
    fees,
    equity,
    ruin_level,
    loss_scale,
    n_liq,
    n_ruin,
    sum_loss,
    sum_bad,
    max_bad,
    sum_fees,
    ttl_hist,
    loss_count,
    loss_sum,
):
    """Add a chunk's per-book results (n_paths, K) to the running statistics, in place.

    Loss histogram: LOSS_BINS equal bins on [-W, W] plus an underflow (index 0) and an
    overflow (last index) bin; W = loss_scale[k].
    """
    n_paths, n_books = loss.shape
    n_bins = loss_count.shape[1] - 2
    for k in range(n_books):
        w = loss_scale[k]
        for i in range(n_paths):
            x = loss[i, k]
            sum_loss[k] += x
            sum_bad[k] += bad[i, k]
            sum_fees[k] += fees[i, k]
            if bad[i, k] > max_bad[k]:
                max_bad[k] = bad[i, k]
            if equity[i, k] <= ruin_level[k]:
                n_ruin[k] += 1
            s = first_step[i, k]
            if s >= 0:
                n_liq[k] += 1
                if s < ttl_hist.shape[1]:  # never index with an unchecked value
                    ttl_hist[k, s] += 1
            # a NaN loss fails both tests and lands in the underflow bin rather than turning
            # into an index (the run refuses non-finite results; see stress.margin.engine)
            pos = (x + w) / (2.0 * w) * n_bins
            if pos >= n_bins:
                j = n_bins + 1
            elif pos >= 0.0:
                j = int(pos) + 1
            else:
                j = 0
            loss_count[k, j] += 1
            loss_sum[k, j] += x
