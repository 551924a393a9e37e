"""Compiled margin kernels: buckets of positions marked along price paths.

Kernels take arrays and scalars, write into caller-allocated outputs and know nothing of modes,
portfolios or names (see `stress.margin.layout`). Buckets never interact: an isolated bucket
cannot draw on anything else and the free balance is constant, so each (path, bucket) pair is
marked through time on its own and stops at its liquidation.

Skipping safe stretches. A bucket's margin surplus, equity minus maintenance, is a sum over its
positions of ``q (S - E) - maintenance(|q| S)``. Each term is linear in its price between tier
caps, so over a stretch of steps its minimum lies at the stretch's lowest or highest price or at
a cap inside that range (the value at the cap, in the lower tier, or the limit just above it, in
the upper tier). Where a market's maintenance is continuous at its caps with rates that never
fall (every table whose amounts are derived by continuity, and Binance's), maintenance is convex,
the term concave, and the caps need not be looked at; tables with jumps at the caps (amounts
given by hand, OKX-style ``notional * mmr`` tables) have every cap in range evaluated. With the
lows and highs of every asset precomputed once per path (whole path, groups of blocks, blocks of
`BLOCK` steps), a bucket whose lower bound stays above zero cannot be liquidated there and is not
marked step by step; only funding boundaries in the stretch are evaluated, exactly, so every
number equals the step-by-step result bit for bit, for every table the config accepts. Pass
``skip=False`` for the plain step-by-step path (the tests compare the two).

Arrays travel in named tuples (`Market`, `Buckets`, `Tiers` in, `BucketResults` out, an
`Outcome` per bucket and path), which numba compiles like plain tuples. The plain kernel binds
every field to a local name before its prange loop and marks a bucket with the array-taking
functions of `stress.margin.bucket_scan` (reading arrays out of a tuple inside the loop costs a
shared reference count per read), and numba silently drops writes made inside the loop through
a named tuple's attribute anyway (numba issues #7135, #10338). The tuple-taking forms below
serve the process and rules kernels. Identical buckets are marked once
(`stress.margin.bucket_twins`).

Set STRESS_NUMBA_CACHE=0 to compile without the on-disk cache.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from stress.margin.aggregate import book_row_a
from stress.margin.bucket_scan import (
    BLOCK,
    CACHE,
    GROUP,
    SAFETY,
    Scan,
    funding_a,
    maintenance_a,
    price_extremes_nb,
    scan_a,
    surplus_parts_a,
    trigger_a,
)

__all__ = ["BLOCK", "CACHE", "GROUP", "SAFETY", "Scan", "price_extremes_nb"]


class Market(NamedTuple):
    """The exchange rules as the kernels read them, built by `stress.margin.engine.market_of`."""

    funding: np.ndarray  # (n_steps + 1,) float64: the rate paid at each step, 0 off boundaries
    liquidation_fee: float
    funding_steps: np.ndarray  # (n_boundaries,) int64: the steps where funding is nonzero
    block_funding: np.ndarray  # (n_blocks + 1,) int64: index in funding_steps of each block's 1st


class Buckets(NamedTuple):
    """Positions grouped into buckets: those of bucket b are bucket_start[b]:bucket_end[b]."""

    pos_asset: np.ndarray  # (P,) int64
    pos_qty: np.ndarray  # (P,) float64, signed: > 0 long, < 0 short
    pos_entry: np.ndarray  # (P,) float64
    bucket_start: np.ndarray  # (B,) int64
    bucket_end: np.ndarray  # (B,) int64
    bucket_collateral: np.ndarray  # (B,) float64


class Tiers(NamedTuple):
    """Maintenance tiers per asset, padded to T tiers: shapes (A, T) and (A,)."""

    cap: np.ndarray  # (A, T) float64, the last used one inf
    mmr: np.ndarray  # (A, T) float64
    amount: np.ndarray  # (A, T) float64
    count: np.ndarray  # (A,) int64: tiers in use
    convex: np.ndarray  # (A,) bool: maintenance continuous at the caps, rates never falling


class Outcome(NamedTuple):
    """One bucket marked along one path."""

    step: int  # liquidation step, or -1
    value: float  # equity at the horizon, or what the trader keeps after liquidation
    bad_debt: float  # max(0, -equity) at the close, before the fee
    fee_paid: float  # liquidation fee paid
    trigger: int  # position whose move lost the most at the liquidation, or -1


class BucketResults(NamedTuple):
    """Per-bucket outcome of a chunk of paths, every array shaped (n_paths, n_buckets)."""

    liq_step: np.ndarray  # int32, -1 = never liquidated
    value: np.ndarray  # float64: equity at the horizon, or what the trader keeps
    bad_debt: np.ndarray  # float64: max(0, -equity) at the close
    fees_paid: np.ndarray  # float64: liquidation fee paid
    trigger: np.ndarray  # int32: position whose move lost the most at the liquidation, or -1


@njit(cache=CACHE, inline="always")
def maintenance_nb(notional, asset, tiers):
    """Maintenance margin of one position: notional * mmr - amount of the tier it falls in."""
    return maintenance_a(notional, asset, tiers.cap, tiers.mmr, tiers.amount, tiers.count)


@njit(cache=CACHE, inline="always")
def funding_nb(prices, t, rate, start, end, buckets):
    """What the bucket's positions pay at step t at `rate` (longs pay when it is positive)."""
    return funding_a(prices, t, rate, start, end, buckets.pos_asset, buckets.pos_qty)


@njit(cache=CACHE, inline="always")
def surplus_parts_nb(prices, t, start, end, buckets, tiers):
    """(unrealised PnL, maintenance, notional) of the bucket's positions at step t."""
    return surplus_parts_a(
        prices, t, start, end, buckets.pos_asset, buckets.pos_qty, buckets.pos_entry,
        tiers.cap, tiers.mmr, tiers.amount, tiers.count,
    )  # fmt: skip


@njit(cache=CACHE, inline="always")
def trigger_nb(prices, t, start, end, buckets):
    """The position whose move since step 0 lost the most at step t."""
    return trigger_a(prices, t, start, end, buckets.pos_asset, buckets.pos_qty)


@njit(cache=CACHE)
def scan_bucket_nb(prices, b, market, buckets, tiers, lo, hi, skip, trace):
    """Bucket `b` along one path up to its first breach (`stress.margin.bucket_scan.scan_a`)."""
    return scan_a(
        prices, buckets.bucket_start[b], buckets.bucket_end[b], buckets.bucket_collateral[b],
        market.funding, market.funding_steps, market.block_funding, buckets.pos_asset,
        buckets.pos_qty, buckets.pos_entry, tiers.cap, tiers.mmr, tiers.amount, tiers.count,
        tiers.convex, lo, hi, skip, trace,
    )  # fmt: skip


@njit(cache=CACHE, inline="always")
def close_a(prices, scan, start, end, fee_rate, pa, pq, trace):
    """The plain venue's outcome of a scanned bucket.

    The bucket is liquidated at the first step where collateral + unrealised PnL - funding paid
    <= maintenance (step 0 included). At the close the trader keeps max(0, equity - fee *
    notional); the fee is paid out of what equity there is, min(fee * notional, max(0, equity));
    bad debt is the deficit the venue absorbs, max(0, -equity), before the fee (a fee the bucket
    cannot pay is forgone, not bad debt).
    """
    t = scan.step
    if t < 0:
        return Outcome(-1, scan.equity, 0.0, 0.0, -1)
    equity = scan.equity
    fee = fee_rate * scan.notional
    kept = max(equity - fee, 0.0)
    if trace.shape[0] == prices.shape[0]:
        for s in range(t, trace.shape[0]):  # a loop, not trace[t:] = kept (see price_extremes_nb)
            trace[s] = kept
    fee_paid = min(fee, max(equity, 0.0))
    bad = max(-equity, 0.0)
    return Outcome(t, kept, bad, fee_paid, trigger_a(prices, t, start, end, pa, pq))


@njit(cache=CACHE, parallel=True)
def mark_buckets_nb(
    prices, market, buckets, tiers, twins, skip, out, out_trace, books, bucket_book, book_free
):
    """Mark every bucket along every path of a chunk (`close_a` of `scan_a`), and optionally sum
    each path's buckets into its books while they are in cache.

    Parameters
    ----------
    prices : ndarray (n_paths, n_steps + 1, n_assets) float64
    market, buckets, tiers : `Market`, `Buckets`, `Tiers`
    twins : `stress.margin.bucket_twins.Twins`: a bucket identical to an earlier one copies its
        outcome (the same bits) instead of being marked again
    skip : bool, skip stretches that provably cannot liquidate (results are identical)
    out : BucketResults of (n_paths, n_buckets) arrays, written; or of (0, n_buckets) arrays to
        keep each path's bucket results only as long as its books need them
    out_trace : ndarray (n_paths, n_buckets, n_steps + 1) float64 to record every bucket's value
        at every step, or shape (0, 0, 0) to skip the recording
    books : `stress.margin.aggregate.BookResults` of (n_paths, K or P) arrays, written as
        `stress.margin.aggregate.book_row_a` sums them; or of 0-row arrays for none
    bucket_book, book_free : the layout's (B,) book of each bucket and (K,) free balances
    """
    n_paths, n_times, n_assets = prices.shape
    n_buckets = buckets.bucket_collateral.shape[0]
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_rows = n_blocks + (n_blocks + GROUP - 1) // GROUP + 1
    record = out_trace.shape[0] == n_paths
    keep = out.liq_step.shape[0] == n_paths
    summing = books.final_equity.shape[0] == n_paths
    no_trace = np.empty(0)
    # every array bound to a local name outside the loop (the module docstring says why)
    liq_step, value, bad_debt, fees_paid = out.liq_step, out.value, out.bad_debt, out.fees_paid
    trigger = out.trigger
    equity, first = books.final_equity, books.first_liq_step
    book_bad, book_fees = books.bad_debt, books.fees_paid
    pos_liquidated, pos_triggered = books.pos_liquidated, books.pos_triggered
    twin, shift = twins.twin, twins.shift
    funding, funding_steps, block_funding = (
        market.funding, market.funding_steps, market.block_funding
    )  # fmt: skip
    fee_rate = market.liquidation_fee
    pa, pq, pe = buckets.pos_asset, buckets.pos_qty, buckets.pos_entry
    starts, ends, collateral = buckets.bucket_start, buckets.bucket_end, buckets.bucket_collateral
    cap, mmr, amount, count, convex = tiers.cap, tiers.mmr, tiers.amount, tiers.count, tiers.convex
    for i in prange(n_paths):
        path = prices[i]
        lo = np.empty((n_rows, n_assets))
        hi = np.empty((n_rows, n_assets))
        price_extremes_nb(path, lo, hi)
        if keep:
            r_liq, r_value, r_bad, r_fees, r_trig = (
                liq_step[i], value[i], bad_debt[i], fees_paid[i], trigger[i]
            )  # fmt: skip
        else:
            r_liq = np.empty(n_buckets, dtype=np.int32)
            r_value, r_bad, r_fees = np.empty(n_buckets), np.empty(n_buckets), np.empty(n_buckets)
            r_trig = np.empty(n_buckets, dtype=np.int32)
        for b in range(n_buckets):
            u = twin[b]
            if u != b:
                r_liq[b] = r_liq[u]
                r_value[b] = r_value[u]
                r_bad[b] = r_bad[u]
                r_fees[b] = r_fees[u]
                r_trig[b] = r_trig[u] + shift[b] if r_trig[u] >= 0 else -1
                if record:
                    for s in range(n_times):  # a loop (see price_extremes_nb)
                        out_trace[i, b, s] = out_trace[i, u, s]
                continue
            trace = out_trace[i, b] if record else no_trace
            start, end = starts[b], ends[b]
            scan = scan_a(
                path, start, end, collateral[b], funding, funding_steps, block_funding, pa, pq,
                pe, cap, mmr, amount, count, convex, lo, hi, skip, trace,
            )  # fmt: skip
            outcome = close_a(path, scan, start, end, fee_rate, pa, pq, trace)
            r_liq[b] = outcome.step
            r_value[b] = outcome.value
            r_bad[b] = outcome.bad_debt
            r_fees[b] = outcome.fee_paid
            r_trig[b] = outcome.trigger
        if summing:
            book_row_a(
                r_value, r_bad, r_fees, r_liq, r_trig, bucket_book, starts, ends, book_free,
                equity[i], first[i], book_bad[i], book_fees[i], pos_liquidated[i],
                pos_triggered[i],
            )  # fmt: skip
