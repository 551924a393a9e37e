"""Compiled margin kernels: buckets of positions marked along price paths.

Kernels take arrays and scalars, write into caller-allocated outputs and know nothing of modes,
portfolios or names (see `stress.margin.layout`). Buckets never interact: an isolated bucket
cannot draw on anything else and the free balance is constant, so each (path, bucket) pair is
marked through time on its own and stops at its liquidation.

Set STRESS_NUMBA_CACHE=0 to compile without the on-disk cache.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit, prange

CACHE = os.environ.get("STRESS_NUMBA_CACHE", "1") != "0"


@njit(cache=CACHE, inline="always")
def maintenance_nb(notional, asset, tier_cap, tier_mmr, tier_amount, tier_count):
    """Maintenance margin of one position: notional * mmr - amount of the tier it falls in."""
    last = tier_count[asset] - 1
    i = 0
    while i < last and notional > tier_cap[asset, i]:
        i += 1
    return notional * tier_mmr[asset, i] - tier_amount[asset, i]


@njit(cache=CACHE)
def mark_bucket_nb(
    prices,
    b,
    funding_count,
    funding_rate,
    liquidation_fee,
    pos_asset,
    pos_qty,
    pos_entry,
    bucket_start,
    bucket_end,
    bucket_collateral,
    tier_cap,
    tier_mmr,
    tier_amount,
    tier_count,
    trace,
):
    """Mark bucket `b` along one path.

    `prices` is one path, shape (n_steps + 1, n_assets). The bucket is liquidated at the first
    step where collateral + unrealised PnL - funding paid <= maintenance (step 0 included); it
    then keeps max(0, equity - fee * notional) and the rest is bad debt. Funding is charged at
    each interval boundary before that step's check, longs paying when the rate is positive.

    Returns (liquidation step or -1, value kept, bad debt, trigger): the trigger is the position
    whose price move since step 0 lost the most at the liquidation step (-1 if none).
    When `trace` has n_steps + 1 elements the bucket's value at every step is written into it
    (the value kept after a liquidation); pass an empty array to skip that.
    """
    n_steps = prices.shape[0] - 1
    start = bucket_start[b]
    end = bucket_end[b]
    funding_paid = 0.0
    equity = bucket_collateral[b]
    recording = trace.shape[0] == n_steps + 1
    for t in range(n_steps + 1):
        if funding_count[t] != 0 and funding_rate != 0.0:
            for p in range(start, end):
                funding_paid += (
                    funding_count[t] * pos_qty[p] * prices[t, pos_asset[p]] * funding_rate
                )
        equity = bucket_collateral[b] - funding_paid
        maint = 0.0
        notional = 0.0
        for p in range(start, end):
            a = pos_asset[p]
            price = prices[t, a]
            equity += pos_qty[p] * (price - pos_entry[p])
            n = abs(pos_qty[p]) * price
            notional += n
            maint += maintenance_nb(n, a, tier_cap, tier_mmr, tier_amount, tier_count)
        if recording:
            trace[t] = equity
        if equity <= maint:
            after = equity - liquidation_fee * notional
            kept = max(after, 0.0)
            if recording:
                trace[t:] = kept
            trigger = start
            worst = np.inf
            for p in range(start, end):
                move = pos_qty[p] * (prices[t, pos_asset[p]] - prices[0, pos_asset[p]])
                if move < worst:
                    worst = move
                    trigger = p
            return t, kept, kept - after, trigger
    return -1, equity, 0.0, -1


@njit(cache=CACHE, parallel=True)
def mark_buckets_nb(
    prices,
    funding_count,
    funding_rate,
    liquidation_fee,
    pos_asset,
    pos_qty,
    pos_entry,
    bucket_start,
    bucket_end,
    bucket_collateral,
    tier_cap,
    tier_mmr,
    tier_amount,
    tier_count,
    out_liq_step,
    out_value,
    out_bad_debt,
    out_trigger,
    out_trace,
):
    """Mark every bucket along every path of a chunk.

    Parameters
    ----------
    prices : ndarray (n_paths, n_steps + 1, n_assets) float64
    funding_count : ndarray (n_steps + 1,) int64, funding boundaries passed at each step
    out_liq_step : ndarray (n_paths, n_buckets) int32, written: liquidation step or -1
    out_value : ndarray (n_paths, n_buckets) float64, written: equity at the horizon, or what the
        trader keeps after liquidation
    out_bad_debt : ndarray (n_paths, n_buckets) float64, written: loss beyond the collateral
    out_trigger : ndarray (n_paths, n_buckets) int32, written: position whose move lost the most
        at the liquidation, -1 where the bucket survives
    out_trace : ndarray (n_paths, n_buckets, n_steps + 1) float64 to record every bucket's value
        at every step, or shape (0, 0, 0) to skip the recording
    """
    record = out_trace.shape[0] == prices.shape[0]
    no_trace = np.empty(0)
    n_paths = prices.shape[0]
    n_buckets = bucket_collateral.shape[0]
    for i in prange(n_paths):
        for b in range(n_buckets):
            step, value, bad, trigger = mark_bucket_nb(
                prices[i],
                b,
                funding_count,
                funding_rate,
                liquidation_fee,
                pos_asset,
                pos_qty,
                pos_entry,
                bucket_start,
                bucket_end,
                bucket_collateral,
                tier_cap,
                tier_mmr,
                tier_amount,
                tier_count,
                out_trace[i, b] if record else no_trace,
            )
            out_liq_step[i, b] = step
            out_value[i, b] = value
            out_bad_debt[i, b] = bad
            out_trigger[i, b] = trigger
