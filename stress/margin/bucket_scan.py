"""One bucket marked along one path up to its first breach, on plain arrays.

The margin surplus, the funding, the bound of a stretch and the scan itself (see
`stress.margin.kernels` for the skipping of safe stretches) take arrays and scalars only, never
the named tuples the kernels receive. The parallel kernels bind the tuples' arrays to local names
once, outside their loops: an array read from a named tuple inside an inlined helper costs a
reference count at every call, atomic and shared by the threads, which measured about half the
plain kernel's time on two cores. `stress.margin.kernels` keeps the tuple-taking forms for the
process and rules kernels, as thin wrappers over these.

Argument groups, always in this order: ``pa, pq, pe`` the positions' asset, signed quantity and
entry; ``cap, mmr, amount, count, convex`` the maintenance tiers (`stress.margin.kernels.Tiers`);
``funding, funding_steps, block_funding`` the funding schedule (`stress.margin.kernels.Market`).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from numba import njit

CACHE = os.environ.get("STRESS_NUMBA_CACHE", "1") != "0"

BLOCK = 32
"""Steps per block of the per-path price extremes."""

GROUP = 8
"""Blocks per group: a second level, so a bucket safe for a long stretch is checked once."""

SAFETY = 1e-9
"""Relative margin a lower bound must clear before a stretch is skipped (rounding headroom)."""


class Scan(NamedTuple):
    """A bucket marked with its configured positions up to its first breach (or the horizon)."""

    step: int  # first step where equity <= maintenance, or -1
    paid: float  # funding paid up to and including that step (or the horizon)
    equity: float  # collateral - paid + unrealised PnL there
    maint: float  # maintenance there (0.0 at the horizon: not computed)
    notional: float  # the positions' notional there (0.0 at the horizon)


@njit(cache=CACHE, inline="always")
def maintenance_a(notional, a, cap, mmr, amount, count):
    """Maintenance margin of one position: notional * mmr - amount of the tier it falls in."""
    last = count[a] - 1
    i = 0
    while i < last and notional > cap[a, i]:
        i += 1
    return notional * mmr[a, i] - amount[a, i]


@njit(cache=CACHE, inline="always")
def funding_a(prices, t, rate, start, end, pa, pq):
    """What positions start:end pay at step t at `rate` (longs pay when it is positive)."""
    paid = 0.0
    for p in range(start, end):
        paid += pq[p] * prices[t, pa[p]] * rate
    return paid


@njit(cache=CACHE, inline="always")
def surplus_parts_a(prices, t, start, end, pa, pq, pe, cap, mmr, amount, count):
    """(unrealised PnL, maintenance, notional) of positions start:end at step t."""
    pnl = 0.0
    maint = 0.0
    notional = 0.0
    for p in range(start, end):
        a = pa[p]
        price = prices[t, a]
        pnl += pq[p] * (price - pe[p])
        n = abs(pq[p]) * price
        notional += n
        maint += maintenance_a(n, a, cap, mmr, amount, count)
    return pnl, maint, notional


@njit(cache=CACHE, inline="always")
def lowest_at_caps_a(q, entry, lo, hi, a, cap, mmr, amount, count):
    """Lowest ``q (S - E) - maintenance(|q| S)`` at the tier caps with |q| lo <= cap < |q| hi.

    At each such cap the term takes the lower tier's value and, just above the cap, tends to
    the upper tier's; both are candidates when maintenance jumps there. Returns inf if no cap
    lies in range.
    """
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
def lowest_surplus_a(lo, hi, start, end, pa, pq, pe, cap, mmr, amount, count, convex):
    """A lower bound of sum(q (S - E) - maintenance) over the price box [lo, hi] per asset.

    Between caps a long's term rises with the price (slope q (1 - mmr) > 0, the rates being
    below 1) and a short's falls, so the lowest is at the low for a long, at the high for a
    short, or at a cap in range where maintenance jumps (not convex).
    """
    total = 0.0
    for p in range(start, end):
        a = pa[p]
        q = pq[p]
        s = lo[a] if q > 0.0 else hi[a]
        lowest = q * (s - pe[p]) - maintenance_a(abs(q) * s, a, cap, mmr, amount, count)
        if not convex[a]:
            at_caps = lowest_at_caps_a(q, pe[p], lo[a], hi[a], a, cap, mmr, amount, count)
            lowest = min(lowest, at_caps)
        total += lowest
    return total


@njit(cache=CACHE, inline="always")
def stretch_a(
    prices, lo, hi, f0, f1, paid, start, end, collateral, funding, funding_steps, pa, pq, pe,
    cap, mmr, amount, count, convex,
):  # fmt: skip
    """(safe, paid after): whether the bucket cannot be liquidated in a stretch of steps,
    whatever the path does there, and the funding paid by its end if it is not.

    The stretch's funding boundaries are funding_steps[f0:f1]; funding inside the stretch is
    bounded by the payments at those steps (exact prices): the surplus can only be lower by
    the sum of the positive ones. Each payment is computed once and added to `paid` in order,
    as a step-by-step mark would.
    """
    worst_paid = paid
    for f in range(f0, f1):
        t = funding_steps[f]
        pay = funding_a(prices, t, funding[t], start, end, pa, pq)
        worst_paid += max(0.0, pay)
        paid += pay
    lowest = lowest_surplus_a(lo, hi, start, end, pa, pq, pe, cap, mmr, amount, count, convex)
    bound = collateral - worst_paid + lowest
    scale = abs(collateral) + abs(worst_paid)
    for p in range(start, end):
        scale += abs(pq[p]) * hi[pa[p]]
    return bound > SAFETY * scale, paid


@njit(cache=CACHE, inline="always")
def pnl_a(prices, t, start, end, pa, pq, pe):
    """Unrealised PnL of positions start:end at step t (`surplus_parts_a`'s first part)."""
    pnl = 0.0
    for p in range(start, end):
        pnl += pq[p] * (prices[t, pa[p]] - pe[p])
    return pnl


@njit(cache=CACHE, inline="always")
def scan_a(
    prices, start, end, collateral, funding, funding_steps, block_funding, pa, pq, pe, cap, mmr,
    amount, count, convex, lo, hi, skip, trace,
):  # fmt: skip
    """Mark positions start:end, backed by `collateral`, along one path up to the first step
    where collateral + unrealised PnL - funding paid <= maintenance (step 0 included),
    skipping the stretches that provably cannot get there. Funding is charged at each interval
    boundary before that step's check.

    Parameters
    ----------
    prices : ndarray (n_steps + 1, n_assets), one path
    lo, hi : ndarray (n_rows, n_assets): lows and highs from `price_extremes_nb`
    skip : bool, skip stretches that provably cannot liquidate
    trace : ndarray (n_steps + 1,) to record the bucket's equity at every step marked, or empty
    (the other arguments: the module docstring)

    Returns
    -------
    Scan
    """
    n_times = prices.shape[0]
    recording = trace.shape[0] == n_times
    paid = 0.0
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_groups = (n_blocks + GROUP - 1) // GROUP
    whole = n_blocks + n_groups  # rows of lo/hi: blocks, then groups of blocks, then the path
    fast = skip and not recording
    # The stretches, coarse to fine: the whole path (row `whole`), then each group of blocks
    # (rows n_blocks + g) and, where a group is not safe, its blocks (rows j), whose steps are
    # marked where a block is not safe either. One call site for the bound keeps the compiled
    # kernel small (it is inlined everywhere).
    row = whole
    g = -1  # the group being looked at (-1: the whole path)
    j = 0  # next block inside group g when `inside`
    inside = False
    while True:
        if row == whole:
            j0, j1 = 0, n_blocks
        elif inside:
            j0, j1 = j, j + 1
        else:
            j0, j1 = g * GROUP, min(g * GROUP + GROUP, n_blocks)
        if fast:
            safe, after = stretch_a(
                prices, lo[row], hi[row], block_funding[j0], block_funding[j1], paid, start,
                end, collateral, funding, funding_steps, pa, pq, pe, cap, mmr, amount, count,
                convex,
            )  # fmt: skip
            if safe:
                paid = after
        else:
            safe = False
        if row != whole and not safe and not inside:  # an unsafe group: look at its blocks
            inside = True
            j = g * GROUP
            row = j
            continue
        if inside and not safe:
            for t in range(j * BLOCK, min((j + 1) * BLOCK, n_times)):
                if funding[t] != 0.0:
                    paid += funding_a(prices, t, funding[t], start, end, pa, pq)
                pnl, maint, notional = surplus_parts_a(
                    prices, t, start, end, pa, pq, pe, cap, mmr, amount, count
                )
                equity = (collateral - paid) + pnl
                if recording:
                    trace[t] = equity
                if equity <= maint:
                    return Scan(t, paid, equity, maint, notional)
        if row == whole and safe:
            break
        # the next stretch: the next block of the group, else the next group
        if inside and j + 1 < min(g * GROUP + GROUP, n_blocks):
            j += 1
            row = j
            continue
        inside = False
        g += 1
        if g >= n_groups:
            break
        row = n_blocks + g
    pnl = pnl_a(prices, n_times - 1, start, end, pa, pq, pe)
    return Scan(-1, paid, (collateral - paid) + pnl, 0.0, 0.0)


@njit(cache=CACHE, inline="always")
def trigger_a(prices, t, start, end, pa, pq):
    """The position whose move since step 0 lost the most at step t."""
    trigger = start
    worst = np.inf
    for p in range(start, end):
        move = pq[p] * (prices[t, pa[p]] - prices[0, pa[p]])
        if move < worst:
            worst = move
            trigger = p
    return trigger


@njit(cache=CACHE, inline="always")
def price_extremes_nb(path, lo, hi):
    """Lows and highs of one path per block, per group of blocks and over the whole path.

    lo/hi have n_blocks + n_groups + 1 rows: blocks of BLOCK steps, then groups of GROUP
    blocks, then the whole path.
    """
    n_times, n_assets = path.shape
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_groups = (n_blocks + GROUP - 1) // GROUP
    # loops rather than `lo[:] = np.inf`: inside the parallel kernel an array expression
    # becomes a parfor of its own, which numba then spends seconds trying to fuse
    for r in range(lo.shape[0]):
        for a in range(n_assets):
            lo[r, a] = np.inf
            hi[r, a] = -np.inf
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
