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
`Outcome` per bucket and path), which numba compiles like plain tuples, read field by field. A
parallel kernel binds each output field to a local name before its prange loop: numba silently
drops writes made inside the loop through a named tuple's attribute (numba issues #7135, #10338).

Set STRESS_NUMBA_CACHE=0 to compile without the on-disk cache.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from numba import njit, prange

CACHE = os.environ.get("STRESS_NUMBA_CACHE", "1") != "0"

BLOCK = 32
"""Steps per block of the per-path price extremes."""

GROUP = 8
"""Blocks per group: a second level, so a bucket safe for a long stretch is checked once."""

SAFETY = 1e-9
"""Relative margin a lower bound must clear before a stretch is skipped (rounding headroom)."""


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
    last = tiers.count[asset] - 1
    i = 0
    while i < last and notional > tiers.cap[asset, i]:
        i += 1
    return notional * tiers.mmr[asset, i] - tiers.amount[asset, i]


@njit(cache=CACHE, inline="always")
def funding_nb(prices, t, rate, start, end, buckets):
    """What the bucket's positions pay at step t at `rate` (longs pay when it is positive)."""
    pos_asset, pos_qty = buckets.pos_asset, buckets.pos_qty
    paid = 0.0
    for p in range(start, end):
        paid += pos_qty[p] * prices[t, pos_asset[p]] * rate
    return paid


@njit(cache=CACHE, inline="always")
def surplus_parts_nb(prices, t, start, end, buckets, tiers):
    """(unrealised PnL, maintenance, notional) of the bucket's positions at step t."""
    pos_asset, pos_qty, pos_entry = buckets.pos_asset, buckets.pos_qty, buckets.pos_entry
    pnl = 0.0
    maint = 0.0
    notional = 0.0
    for p in range(start, end):
        a = pos_asset[p]
        price = prices[t, a]
        pnl += pos_qty[p] * (price - pos_entry[p])
        n = abs(pos_qty[p]) * price
        notional += n
        maint += maintenance_nb(n, a, tiers)
    return pnl, maint, notional


@njit(cache=CACHE, inline="always")
def lowest_at_caps_nb(q, entry, lo, hi, a, tiers):
    """Lowest ``q (S - E) - maintenance(|q| S)`` at the tier caps with |q| lo <= cap < |q| hi.

    At each such cap the term takes the lower tier's value and, just above the cap, tends to
    the upper tier's; both are candidates when maintenance jumps there. Returns inf if no cap
    lies in range.
    """
    cap, mmr, amount = tiers.cap, tiers.mmr, tiers.amount
    size = abs(q)
    n_lo = size * lo
    n_hi = size * hi
    out = np.inf
    for i in range(tiers.count[a] - 1):
        c = cap[a, i]
        if c >= n_hi:
            break
        if c >= n_lo:
            linear = q * (c / size - entry)
            below = linear - (c * mmr[a, i] - amount[a, i])
            above = linear - (c * mmr[a, i + 1] - amount[a, i + 1])
            out = min(out, below, above)
    return out


@njit(cache=CACHE, inline="always")
def lowest_surplus_nb(lo, hi, start, end, buckets, tiers):
    """A lower bound of sum(q (S - E) - maintenance) over the price box [lo, hi] per asset."""
    pos_asset, pos_qty, pos_entry = buckets.pos_asset, buckets.pos_qty, buckets.pos_entry
    convex = tiers.convex
    total = 0.0
    for p in range(start, end):
        a = pos_asset[p]
        q = pos_qty[p]
        at_lo = q * (lo[a] - pos_entry[p]) - maintenance_nb(abs(q) * lo[a], a, tiers)
        at_hi = q * (hi[a] - pos_entry[p]) - maintenance_nb(abs(q) * hi[a], a, tiers)
        lowest = min(at_lo, at_hi)
        if not convex[a]:
            lowest = min(lowest, lowest_at_caps_nb(q, pos_entry[p], lo[a], hi[a], a, tiers))
        total += lowest
    return total


@njit(cache=CACHE, inline="always")
def trigger_nb(prices, t, start, end, buckets):
    """The position whose move since step 0 lost the most at step t."""
    pos_asset, pos_qty = buckets.pos_asset, buckets.pos_qty
    trigger = start
    worst = np.inf
    for p in range(start, end):
        move = pos_qty[p] * (prices[t, pos_asset[p]] - prices[0, pos_asset[p]])
        if move < worst:
            worst = move
            trigger = p
    return trigger


@njit(cache=CACHE, inline="always")
def stretch_is_safe_nb(prices, lo, hi, f0, f1, paid, b, market, buckets, tiers):
    """True if bucket b cannot be liquidated in a stretch of steps, whatever the path does there.

    The stretch's funding boundaries are market.funding_steps[f0:f1]; funding inside the stretch
    is bounded by the payments at those steps (exact prices): the surplus can only be lower by
    the sum of the positive ones.
    """
    funding, funding_steps = market.funding, market.funding_steps
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    collateral = buckets.bucket_collateral[b]
    worst_paid = paid
    for f in range(f0, f1):
        t = funding_steps[f]
        worst_paid += max(0.0, funding_nb(prices, t, funding[t], start, end, buckets))
    bound = collateral - worst_paid + lowest_surplus_nb(lo, hi, start, end, buckets, tiers)
    scale = abs(collateral) + abs(worst_paid)
    for p in range(start, end):
        scale += abs(buckets.pos_qty[p]) * hi[buckets.pos_asset[p]]
    return bound > SAFETY * scale


@njit(cache=CACHE, inline="always")
def pay_stretch_nb(prices, f0, f1, paid, b, market, buckets):
    """Funding paid at boundaries market.funding_steps[f0:f1] of a safe stretch, in order."""
    funding, funding_steps = market.funding, market.funding_steps
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    for f in range(f0, f1):
        t = funding_steps[f]
        paid += funding_nb(prices, t, funding[t], start, end, buckets)
    return paid


@njit(cache=CACHE)
def mark_bucket_nb(prices, b, market, buckets, tiers, lo, hi, skip, trace):
    """Mark bucket `b` along one path.

    The bucket is liquidated at the first step where collateral + unrealised PnL - funding paid
    <= maintenance (step 0 included). At the close the trader keeps max(0, equity - fee *
    notional); the fee is paid out of what equity there is, min(fee * notional, max(0, equity));
    bad debt is the deficit the venue absorbs, max(0, -equity), before the fee (a fee the bucket
    cannot pay is forgone, not bad debt). Funding is charged at each interval boundary before
    that step's check.

    Parameters
    ----------
    prices : ndarray (n_steps + 1, n_assets), one path
    market : Market
    buckets : Buckets
    tiers : Tiers
    lo, hi : ndarray (n_rows, n_assets): lows and highs from `price_extremes_nb`
    skip : bool, skip stretches that provably cannot liquidate
    trace : ndarray (n_steps + 1,) to record the bucket's value at every step, or empty

    Returns
    -------
    Outcome
    """
    funding, block_funding = market.funding, market.block_funding
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    collateral = buckets.bucket_collateral[b]
    n_times = prices.shape[0]
    recording = trace.shape[0] == n_times
    paid = 0.0
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_groups = (n_blocks + GROUP - 1) // GROUP
    whole = n_blocks + n_groups  # rows of lo/hi: blocks, then groups of blocks, then the path
    fast = skip and not recording
    if fast and stretch_is_safe_nb(
        prices, lo[whole], hi[whole], 0, block_funding[n_blocks], paid, b, market, buckets, tiers
    ):
        paid = pay_stretch_nb(prices, 0, block_funding[n_blocks], paid, b, market, buckets)
        pnl, _, _ = surplus_parts_nb(prices, n_times - 1, start, end, buckets, tiers)
        return Outcome(-1, (collateral - paid) + pnl, 0.0, 0.0, -1)
    for g in range(n_groups):
        j0 = g * GROUP
        j1 = min(j0 + GROUP, n_blocks)
        f0, f1 = block_funding[j0], block_funding[j1]
        row = n_blocks + g
        if fast and stretch_is_safe_nb(
            prices, lo[row], hi[row], f0, f1, paid, b, market, buckets, tiers
        ):
            paid = pay_stretch_nb(prices, f0, f1, paid, b, market, buckets)
            continue
        for j in range(j0, j1):
            f0, f1 = block_funding[j], block_funding[j + 1]
            if fast and stretch_is_safe_nb(
                prices, lo[j], hi[j], f0, f1, paid, b, market, buckets, tiers
            ):
                paid = pay_stretch_nb(prices, f0, f1, paid, b, market, buckets)
                continue
            for t in range(j * BLOCK, min((j + 1) * BLOCK, n_times)):
                if funding[t] != 0.0:
                    paid += funding_nb(prices, t, funding[t], start, end, buckets)
                pnl, maint, notional = surplus_parts_nb(prices, t, start, end, buckets, tiers)
                equity = (collateral - paid) + pnl
                if recording:
                    trace[t] = equity
                if equity <= maint:
                    fee = market.liquidation_fee * notional
                    kept = max(equity - fee, 0.0)
                    if recording:
                        trace[t:] = kept
                    fee_paid = min(fee, max(equity, 0.0))
                    bad = max(-equity, 0.0)
                    trigger = trigger_nb(prices, t, start, end, buckets)
                    return Outcome(t, kept, bad, fee_paid, trigger)
    pnl, _, _ = surplus_parts_nb(prices, n_times - 1, start, end, buckets, tiers)
    return Outcome(-1, (collateral - paid) + pnl, 0.0, 0.0, -1)


@njit(cache=CACHE, inline="always")
def price_extremes_nb(path, lo, hi):
    """Lows and highs of one path per block, per group of blocks and over the whole path.

    lo/hi have n_blocks + n_groups + 1 rows: blocks of BLOCK steps, then groups of GROUP
    blocks, then the whole path.
    """
    n_times, n_assets = path.shape
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_groups = (n_blocks + GROUP - 1) // GROUP
    lo[:] = np.inf
    hi[:] = -np.inf
    for t in range(n_times):
        j = t // BLOCK
        for a in range(n_assets):
            x = path[t, a]
            lo[j, a] = min(lo[j, a], x)
            hi[j, a] = max(hi[j, a], x)
    for j in range(n_blocks):
        g = n_blocks + j // GROUP
        for a in range(n_assets):
            lo[g, a] = min(lo[g, a], lo[j, a])
            hi[g, a] = max(hi[g, a], hi[j, a])
    whole = n_blocks + n_groups
    for g in range(n_blocks, whole):
        for a in range(n_assets):
            lo[whole, a] = min(lo[whole, a], lo[g, a])
            hi[whole, a] = max(hi[whole, a], hi[g, a])


@njit(cache=CACHE, parallel=True)
def mark_buckets_nb(prices, market, buckets, tiers, skip, out, out_trace):
    """Mark every bucket along every path of a chunk.

    Parameters
    ----------
    prices : ndarray (n_paths, n_steps + 1, n_assets) float64
    market, buckets, tiers : `Market`, `Buckets`, `Tiers`
    skip : bool, skip stretches that provably cannot liquidate (results are identical)
    out : BucketResults of (n_paths, n_buckets) arrays, written
    out_trace : ndarray (n_paths, n_buckets, n_steps + 1) float64 to record every bucket's value
        at every step, or shape (0, 0, 0) to skip the recording
    """
    n_paths, n_times, n_assets = prices.shape
    n_buckets = buckets.bucket_collateral.shape[0]
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_rows = n_blocks + (n_blocks + GROUP - 1) // GROUP + 1
    record = out_trace.shape[0] == n_paths
    no_trace = np.empty(0)
    # bound to names outside the prange loop: numba drops writes made there through a named
    # tuple's attribute (numba issues #7135, #10338); reads are fine
    liq_step, value, bad_debt, fees_paid = out.liq_step, out.value, out.bad_debt, out.fees_paid
    trigger = out.trigger
    for i in prange(n_paths):
        path = prices[i]
        lo = np.empty((n_rows, n_assets))
        hi = np.empty((n_rows, n_assets))
        price_extremes_nb(path, lo, hi)
        for b in range(n_buckets):
            trace = out_trace[i, b] if record else no_trace
            outcome = mark_bucket_nb(path, b, market, buckets, tiers, lo, hi, skip, trace)
            liq_step[i, b] = outcome.step
            value[i, b] = outcome.value
            bad_debt[i, b] = outcome.bad_debt
            fees_paid[i, b] = outcome.fee_paid
            trigger[i, b] = outcome.trigger
