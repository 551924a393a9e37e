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

Set STRESS_NUMBA_CACHE=0 to compile without the on-disk cache.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit, prange

CACHE = os.environ.get("STRESS_NUMBA_CACHE", "1") != "0"

BLOCK = 32
"""Steps per block of the per-path price extremes."""

GROUP = 8
"""Blocks per group: a second level, so a bucket safe for a long stretch is checked once."""

SAFETY = 1e-9
"""Relative margin a lower bound must clear before a stretch is skipped (rounding headroom)."""


@njit(cache=CACHE, inline="always")
def maintenance_nb(notional, asset, tiers):
    """Maintenance margin of one position: notional * mmr - amount of the tier it falls in."""
    cap, mmr, amount, count = tiers[0], tiers[1], tiers[2], tiers[3]
    last = count[asset] - 1
    i = 0
    while i < last and notional > cap[asset, i]:
        i += 1
    return notional * mmr[asset, i] - amount[asset, i]


@njit(cache=CACHE, inline="always")
def funding_nb(prices, t, rate, start, end, book):
    """What the bucket's positions pay at step t at `rate` (longs pay when it is positive)."""
    pos_asset, pos_qty = book[0], book[1]
    paid = 0.0
    for p in range(start, end):
        paid += pos_qty[p] * prices[t, pos_asset[p]] * rate
    return paid


@njit(cache=CACHE, inline="always")
def surplus_parts_nb(prices, t, start, end, book, tiers):
    """(unrealised PnL, maintenance, notional) of the bucket's positions at step t."""
    pos_asset, pos_qty, pos_entry = book[0], book[1], book[2]
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
    cap, mmr, amount, count = tiers[0], tiers[1], tiers[2], tiers[3]
    size = abs(q)
    n_lo = size * lo
    n_hi = size * hi
    out = np.inf
    for i in range(count[a] - 1):
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
def lowest_surplus_nb(lo, hi, start, end, book, tiers):
    """A lower bound of sum(q (S - E) - maintenance) over the price box [lo, hi] per asset."""
    pos_asset, pos_qty, pos_entry = book[0], book[1], book[2]
    convex = tiers[4]
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
def trigger_nb(prices, t, start, end, book):
    """The position whose move since step 0 lost the most at step t."""
    pos_asset, pos_qty = book[0], book[1]
    trigger = start
    worst = np.inf
    for p in range(start, end):
        move = pos_qty[p] * (prices[t, pos_asset[p]] - prices[0, pos_asset[p]])
        if move < worst:
            worst = move
            trigger = p
    return trigger


@njit(cache=CACHE, inline="always")
def stretch_is_safe_nb(prices, lo, hi, f0, f1, paid, b, market, book, tiers):
    """True if bucket b cannot be liquidated in a stretch of steps, whatever the path does there.

    The stretch's funding boundaries are market[2][f0:f1]; funding inside the stretch is bounded
    by the payments at those steps (exact prices): the surplus can only be lower by the sum of
    the positive ones.
    """
    funding, funding_steps = market[0], market[2]
    start, end, collateral = book[3][b], book[4][b], book[5][b]
    worst_paid = paid
    for f in range(f0, f1):
        t = funding_steps[f]
        worst_paid += max(0.0, funding_nb(prices, t, funding[t], start, end, book))
    bound = collateral - worst_paid + lowest_surplus_nb(lo, hi, start, end, book, tiers)
    scale = abs(collateral) + abs(worst_paid)
    for p in range(start, end):
        scale += abs(book[1][p]) * hi[book[0][p]]
    return bound > SAFETY * scale


@njit(cache=CACHE, inline="always")
def pay_stretch_nb(prices, f0, f1, paid, b, market, book):
    """Funding paid at boundaries market[2][f0:f1] of a safe stretch, in step-by-step order."""
    funding, funding_steps = market[0], market[2]
    start, end = book[3][b], book[4][b]
    for f in range(f0, f1):
        t = funding_steps[f]
        paid += funding_nb(prices, t, funding[t], start, end, book)
    return paid


@njit(cache=CACHE)
def mark_bucket_nb(prices, b, market, book, tiers, lo, hi, skip, trace):
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
    market : (funding (n_steps + 1,) float64: the rate paid at each step, 0 between
        boundaries; liquidation_fee; funding_steps (n_boundaries,) int64: the steps where
        funding is nonzero; block_funding (n_blocks + 1,) int64: index in funding_steps of
        each block's first one)
    book : (pos_asset, pos_qty, pos_entry, bucket_start, bucket_end, bucket_collateral)
    tiers : (tier_cap, tier_mmr, tier_amount, tier_count, tier_convex), shapes (A, T) and (A,);
        tier_convex[a] is True where maintenance is continuous with non-decreasing rates
    lo, hi : ndarray (n_rows, n_assets): lows and highs from `price_extremes_nb`
    skip : bool, skip stretches that provably cannot liquidate
    trace : ndarray (n_steps + 1,) to record the bucket's value at every step, or empty

    Returns
    -------
    (liquidation step or -1, value kept, bad debt, fee paid, trigger position or -1)
    """
    funding, liquidation_fee, block_funding = market[0], market[1], market[3]
    start, end, collateral = book[3][b], book[4][b], book[5][b]
    n_times = prices.shape[0]
    recording = trace.shape[0] == n_times
    paid = 0.0
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_groups = (n_blocks + GROUP - 1) // GROUP
    whole = n_blocks + n_groups  # rows of lo/hi: blocks, then groups of blocks, then the path
    fast = skip and not recording
    if fast and stretch_is_safe_nb(
        prices, lo[whole], hi[whole], 0, block_funding[n_blocks], paid, b, market, book, tiers
    ):
        paid = pay_stretch_nb(prices, 0, block_funding[n_blocks], paid, b, market, book)
        pnl, _, _ = surplus_parts_nb(prices, n_times - 1, start, end, book, tiers)
        return -1, (collateral - paid) + pnl, 0.0, 0.0, -1
    for g in range(n_groups):
        j0 = g * GROUP
        j1 = min(j0 + GROUP, n_blocks)
        f0, f1 = block_funding[j0], block_funding[j1]
        row = n_blocks + g
        if fast and stretch_is_safe_nb(
            prices, lo[row], hi[row], f0, f1, paid, b, market, book, tiers
        ):
            paid = pay_stretch_nb(prices, f0, f1, paid, b, market, book)
            continue
        for j in range(j0, j1):
            f0, f1 = block_funding[j], block_funding[j + 1]
            if fast and stretch_is_safe_nb(
                prices, lo[j], hi[j], f0, f1, paid, b, market, book, tiers
            ):
                paid = pay_stretch_nb(prices, f0, f1, paid, b, market, book)
                continue
            for t in range(j * BLOCK, min((j + 1) * BLOCK, n_times)):
                if funding[t] != 0.0:
                    paid += funding_nb(prices, t, funding[t], start, end, book)
                pnl, maint, notional = surplus_parts_nb(prices, t, start, end, book, tiers)
                equity = (collateral - paid) + pnl
                if recording:
                    trace[t] = equity
                if equity <= maint:
                    fee = liquidation_fee * notional
                    kept = max(equity - fee, 0.0)
                    if recording:
                        trace[t:] = kept
                    fee_paid = min(fee, max(equity, 0.0))
                    bad = max(-equity, 0.0)
                    return t, kept, bad, fee_paid, trigger_nb(prices, t, start, end, book)
    pnl, _, _ = surplus_parts_nb(prices, n_times - 1, start, end, book, tiers)
    return -1, (collateral - paid) + pnl, 0.0, 0.0, -1


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
def mark_buckets_nb(
    prices,
    market,
    book,
    tiers,
    skip,
    out_liq_step,
    out_value,
    out_bad_debt,
    out_fees,
    out_trigger,
    out_trace,
):
    """Mark every bucket along every path of a chunk.

    Parameters
    ----------
    prices : ndarray (n_paths, n_steps + 1, n_assets) float64
    market, book, tiers : see `mark_bucket_nb`
    skip : bool, skip stretches that provably cannot liquidate (results are identical)
    out_liq_step : ndarray (n_paths, n_buckets) int32, written: liquidation step or -1
    out_value : ndarray (n_paths, n_buckets) float64, written: equity at the horizon, or what the
        trader keeps after liquidation
    out_bad_debt : ndarray (n_paths, n_buckets) float64, written: the deficit at the close,
        max(0, -equity), before the fee
    out_fees : ndarray (n_paths, n_buckets) float64, written: liquidation fee paid (0 if none)
    out_trigger : ndarray (n_paths, n_buckets) int32, written: position whose move lost the most
        at the liquidation, -1 where the bucket survives
    out_trace : ndarray (n_paths, n_buckets, n_steps + 1) float64 to record every bucket's value
        at every step, or shape (0, 0, 0) to skip the recording
    """
    n_paths, n_times, n_assets = prices.shape
    n_buckets = book[5].shape[0]
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_rows = n_blocks + (n_blocks + GROUP - 1) // GROUP + 1
    record = out_trace.shape[0] == n_paths
    no_trace = np.empty(0)
    for i in prange(n_paths):
        path = prices[i]
        lo = np.empty((n_rows, n_assets))
        hi = np.empty((n_rows, n_assets))
        price_extremes_nb(path, lo, hi)
        for b in range(n_buckets):
            trace = out_trace[i, b] if record else no_trace
            step, value, bad, fee, trigger = mark_bucket_nb(
                path, b, market, book, tiers, lo, hi, skip, trace
            )
            out_liq_step[i, b] = step
            out_value[i, b] = value
            out_bad_debt[i, b] = bad
            out_fees[i, b] = fee
            out_trigger[i, b] = trigger
