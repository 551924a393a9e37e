"""The compiled acts on a book under the trader's rules: its equity, the venue's whole close,
the trader's close, and the bookkeeping of an emptied bucket (`stress.margin.rules_kernel`).

Each works on one path's working copy (`stress.margin.rules_state.State`) and reproduces the
arithmetic of `stress.margin.kernels` and `stress.margin.processes.close_all_nb` over the
positions still open (a rule leaves a closed position at quantity exactly 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from stress.margin.kernels import CACHE, maintenance_nb
from stress.margin.processes import close_cost_nb
from stress.margin.slippage import slippage_cost_nb


@njit(cache=CACHE, inline="always")
def open_parts_nb(prices, t, start, end, st, buckets, tiers):
    """(unrealised PnL, maintenance, notional) of the bucket's open positions at step t:
    `stress.margin.kernels.surplus_parts_nb` over the positions not closed by a rule."""
    qty, pos_asset, pos_entry = st.qty, buckets.pos_asset, buckets.pos_entry
    pnl = 0.0
    maint = 0.0
    notional = 0.0
    for p in range(start, end):
        q = qty[p]
        if q == 0.0:
            continue
        a = pos_asset[p]
        price = prices[t, a]
        pnl += q * (price - pos_entry[p])
        n = abs(q) * price
        notional += n
        maint += maintenance_nb(n, a, tiers)
    return pnl, maint, notional


@njit(cache=CACHE, inline="always")
def open_funding_nb(prices, t, rate, b, st, buckets):
    """What bucket b's open positions pay at step t: `stress.margin.kernels.funding_nb`."""
    paid = 0.0
    for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
        q = st.qty[p]
        if q != 0.0:
            paid += q * prices[t, buckets.pos_asset[p]] * rate
    return paid


@njit(cache=CACHE, inline="always")
def bucket_equity_nb(prices, t, b, st, buckets, tiers):
    pnl, maint, notional = open_parts_nb(
        prices, t, buckets.bucket_start[b], buckets.bucket_end[b], st, buckets, tiers
    )
    return (st.coll[b] - st.paid[b]) + pnl, maint, notional


@njit(cache=CACHE)
def venue_close_nb(prices, t, b, equity, cut_fees, st, market, buckets, tiers, process, liquidity):
    """The venue's whole close of bucket b (`stress.margin.processes.close_all_nb` over its open
    positions): records what it leaves, its bad debt, its fee (with `cut_fees`, those of a
    step-down cut at the same mark, summed as `stress.margin.process_kernels.breach_nb` does)
    and the positions closed."""
    cost = 0.0
    notional = 0.0
    for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
        q = st.qty[p]
        if q == 0.0:
            continue
        st.venue_closed[p] = True
        a = buckets.pos_asset[p]
        n = abs(q) * prices[t, a]
        notional += n
        if liquidity.liquid[a]:
            cost += close_cost_nb(n, a, tiers, process, liquidity)
    eq = equity - cost
    fee = market.liquidation_fee * notional
    st.value[b] = max(eq - fee, 0.0) if process.residual_to_trader else 0.0
    st.bad[b] = max(-eq, 0.0)
    st.fee[b] += cut_fees + min(fee, max(eq, 0.0))
    st.open_[b] = False


@njit(cache=CACHE, inline="always")
def first_breach_nb(prices, t, b, st, buckets):
    """Record bucket b's first breach at mark t (partial or full): its step and its trigger, the
    open position whose move since step 0 lost the most."""
    if st.liq[b] >= 0:
        return
    trigger = -1
    worst = np.inf
    for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
        q = st.qty[p]
        if q == 0.0:
            continue
        a = buckets.pos_asset[p]
        move = q * (prices[t, a] - prices[0, a])
        if move < worst:
            worst = move
            trigger = p
    st.liq[b] = t
    st.trig[b] = trigger


@njit(cache=CACHE, inline="always")
def trader_close_nb(prices, t, p, b, dq, st, buckets, liquidity):
    """Close dq (signed like the position) of position p of bucket b at the mark less its
    slippage; the PnL goes into the bucket's collateral."""
    a = buckets.pos_asset[p]
    price = prices[t, a]
    cost = slippage_cost_nb(abs(dq) * price, a, liquidity)
    st.coll[b] += dq * (price - buckets.pos_entry[p]) - cost
    if dq == st.qty[p]:
        st.qty[p] = 0.0
    else:
        st.qty[p] -= dq


@njit(cache=CACHE, inline="always")
def is_empty_nb(b, st, buckets):
    for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
        if st.qty[p] != 0.0:
            return False
    return True


@njit(cache=CACHE, inline="always")
def settle_empty_nb(b, st):
    """A bucket a rule emptied: its equity goes to the free balance, a deficit is bad debt.
    Returns what joins the free balance."""
    eq = st.coll[b] - st.paid[b]
    st.bad[b] = max(-eq, 0.0)
    st.value[b] = 0.0
    st.open_[b] = False
    return max(eq, 0.0)


@njit(cache=CACHE, inline="always")
def note_nb(st, which, t):
    """Count a rule's firing (events[which]) and its first step (events[which + 1])."""
    st.events[which] += 1
    if st.events[which + 1] < 0:
        st.events[which + 1] = t


STOPS, REDUCES, TOP_UPS, HARD_STOP = 0, 2, 4, 6


@njit(cache=CACHE, inline="always")
def book_equity_nb(prices, t, k, st, span, buckets, tiers):
    """The book's equity at mark t: free balance, open buckets' equity, closed buckets' value."""
    total = st.free[k]
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if st.open_[b]:
            total += bucket_equity_nb(prices, t, b, st, buckets, tiers)[0]
        else:
            total += st.value[b]
    return total


@njit(cache=CACHE, inline="always")
def any_open_nb(k, st, span):
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if st.open_[b]:
            return True
    return False


@njit(cache=CACHE)
def close_book_nb(prices, t, k, st, span, buckets, liquidity):
    """The hard stop: every open position of the book closed at mark t by the trader."""
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if not st.open_[b]:
            continue
        for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
            if st.qty[p] != 0.0:
                trader_close_nb(prices, t, p, b, st.qty[p], st, buckets, liquidity)
        st.free[k] += settle_empty_nb(b, st)
