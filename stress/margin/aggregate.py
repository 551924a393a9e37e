"""Compiled bookkeeping after the kernels: buckets summed into books, statistics accumulated.

Both run over (paths x buckets) or (paths x books) arrays of a chunk; written as loops because
numpy's reduceat and bincount allocate several chunk-sized temporaries per call, which cost
more than the margin kernels themselves on thousands of portfolios.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from stress.margin.bucket_scan import CACHE


class BookResults(NamedTuple):
    """Per-path outcome of every book, shapes (n_paths, K) or, per position, (n_paths, P)."""

    final_equity: np.ndarray  # float64
    first_liq_step: np.ndarray  # int32, -1 = never liquidated
    bad_debt: np.ndarray  # float64: deficits absorbed by the venue, summed over the buckets
    fees_paid: np.ndarray  # float64: liquidation fees paid, summed over the buckets
    pos_liquidated: np.ndarray  # bool, per position
    pos_triggered: np.ndarray  # bool: the position whose move set off its bucket's liquidation


@njit(cache=CACHE, nogil=True)
def book_row_a(
    value, bucket_bad, bucket_fees, liq_step, trigger, bucket_book, bucket_start, bucket_end,
    book_free, equity, first, bad, fees, pos_liquidated, pos_triggered,
):  # fmt: skip
    """One path's buckets (rows over B) summed into its books (rows over K) and positions (P).

    Called once per path, not inlined: inlined into the parallel kernel it cost seconds of
    compilation for nothing measurable at run time.

    A book's equity is its free balance plus its buckets' values, its bad debt and fees paid
    their sums, its first liquidation the earliest of its buckets' (-1 if none); a position is
    liquidated with its bucket, and triggered if its bucket's trigger names it.
    """
    for k in range(book_free.shape[0]):
        equity[k] = book_free[k]
        bad[k] = 0.0
        fees[k] = 0.0
        first[k] = -1
    for b in range(value.shape[0]):
        k = bucket_book[b]
        equity[k] += value[b]
        bad[k] += bucket_bad[b]
        fees[k] += bucket_fees[b]
        s = liq_step[b]
        if s >= 0 and (first[k] < 0 or s < first[k]):
            first[k] = s
        for p in range(bucket_start[b], bucket_end[b]):
            pos_liquidated[p] = s >= 0
            pos_triggered[p] = trigger[b] == p


@njit(cache=CACHE, nogil=True)
def books_from_buckets_nb(buckets, bucket_book, bucket_start, bucket_end, book_free, out):
    """Per-bucket results (n_paths, B) -> per-book (n_paths, K) and per-position (n_paths, P),
    path by path (`book_row_a`). `buckets` is a `stress.margin.kernels.BucketResults`, `out` a
    `BookResults`, written. (The plain kernel sums its books itself, while a path's buckets
    are in cache: `stress.margin.kernels.mark_buckets_nb`.)
    """
    # bound to names outside the loop: an array read out of a named tuple inside it costs a
    # shared reference count (`stress.margin.bucket_scan`)
    equity, first, bad, fees = out.final_equity, out.first_liq_step, out.bad_debt, out.fees_paid
    pos_liquidated, pos_triggered = out.pos_liquidated, out.pos_triggered
    value, bucket_bad, bucket_fees = buckets.value, buckets.bad_debt, buckets.fees_paid
    liq_step, trigger = buckets.liq_step, buckets.trigger
    for i in range(liq_step.shape[0]):
        book_row_a(
            value[i], bucket_bad[i], bucket_fees[i], liq_step[i], trigger[i], bucket_book,
            bucket_start, bucket_end, book_free, equity[i], first[i], bad[i], fees[i],
            pos_liquidated[i], pos_triggered[i],
        )  # fmt: skip


@njit(cache=CACHE, nogil=True)
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
    k0,
    k1,
):
    """Add a chunk's per-book results (n_paths, K) to the running statistics, in place.

    Loss histogram: LOSS_BINS equal bins on [-W, W] plus an underflow (index 0) and an
    overflow (last index) bin; W = loss_scale[k]. Only books k0:k1 are added: books are
    independent and each is summed over the paths in order, so the books can be split over
    threads and no sum depends on the thread count.
    """
    n_paths = loss.shape[0]
    n_bins = loss_count.shape[1] - 2
    for k in range(k0, k1):
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


@njit(cache=CACHE)
def partials_to_books_nb(count, notional, bucket_book, book_count, book_notional):
    """Per-bucket partial closes (n_paths, B) summed into books (n_paths, K), written."""
    n_paths, n_buckets = count.shape
    book_count[:] = 0
    book_notional[:] = 0.0
    for i in range(n_paths):
        for b in range(n_buckets):
            k = bucket_book[b]
            book_count[i, k] += count[i, b]
            book_notional[i, k] += notional[i, b]
