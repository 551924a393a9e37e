"""The trader's rules acting on a book at one mark (`stress.margin.rules_kernel`): which are due,
and the stops, ladders, top-ups, hard stop and the venue's liquidations they set off."""

from __future__ import annotations

import numpy as np
from numba import njit

from stress.margin.kernels import CACHE, Buckets
from stress.margin.processes import TIER_STEP_DOWN, step_down_nb
from stress.margin.rules_book import (
    HARD_STOP,
    REDUCES,
    STOPS,
    TOP_UPS,
    any_open_nb,
    book_equity_nb,
    bucket_equity_nb,
    close_book_nb,
    first_breach_nb,
    is_empty_nb,
    note_nb,
    settle_empty_nb,
    trader_close_nb,
    venue_close_nb,
)


@njit(cache=CACHE, inline="always")
def stop_fires_nb(price, p, st, buckets, rules):
    q = st.qty[p]
    level = rules.stop_price[p]
    if q > 0.0 and price <= level or q < 0.0 and price >= level:
        return True
    return -q * (price - buckets.pos_entry[p]) >= rules.stop_loss[p]


@njit(cache=CACHE, inline="always")
def rung_fires_nb(price, entry, long, r, rules):
    """Whether rung r's move has been reached: against a long or for a short, the price fell."""
    down = long != rules.rung_favour[r]
    if down:
        return price <= entry * (1.0 - rules.rung_move[r])
    return price >= entry * (1.0 + rules.rung_move[r])


@njit(cache=CACHE, inline="always")
def rules_due_nb(prices, t, k, st, span, buckets, rules):
    """Whether a stop or a ladder rung of the book's open positions fires at mark t."""
    qty, pos_asset, pos_entry, opening = (
        st.qty,
        buckets.pos_asset,
        buckets.pos_entry,
        buckets.pos_qty,
    )
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if not st.open_[b]:
            continue
        for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
            if qty[p] == 0.0:
                continue
            price = prices[t, pos_asset[p]]
            if stop_fires_nb(price, p, st, buckets, rules):
                return True
            for r in range(rules.rung_start[p], rules.rung_end[p]):
                if not st.rung_done[r] and rung_fires_nb(
                    price, pos_entry[p], opening[p] > 0.0, r, rules
                ):
                    return True
    return False


@njit(cache=CACHE, inline="always")
def top_up_due_nb(prices, t, k, st, span, buckets, tiers, rules):
    """Whether an isolated bucket of the book has reached its top-up threshold at mark t."""
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if bucket_top_up_due_nb(prices, t, b, st, buckets, tiers, rules):
            return True
    return False


@njit(cache=CACHE, inline="always")
def bucket_top_up_due_nb(prices, t, b, st, buckets, tiers, rules):
    """Whether open bucket b is isolated, may still be topped up, and its equity e > 0 and
    maintenance m satisfy ``e x at_margin_ratio <= m`` at mark t."""
    if not (st.open_[b] and rules.bucket_isolated[b]):
        return False
    p = buckets.bucket_start[b]
    ratio = rules.top_ratio[p]
    if ratio <= 0.0 or st.tops[p] >= rules.top_times[p] or st.topped[p] >= rules.top_cap[p]:
        return False
    eq, maint, _ = bucket_equity_nb(prices, t, b, st, buckets, tiers)
    return eq > 0.0 and eq * ratio <= maint


@njit(cache=CACHE, inline="always")
def breached_nb(prices, t, k, st, span, buckets, tiers):
    """Whether an open bucket of the book is at or below its maintenance at mark t."""
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if st.open_[b]:
            equity, maint, _ = bucket_equity_nb(prices, t, b, st, buckets, tiers)
            if equity <= maint:
                return True
    return False


DUST = 1e-9
"""A ladder rung that would leave less than this share of the opening size closes the rest:
shares that add up to 100 % leave a rounding error open, not a position."""


@njit(cache=CACHE)
def position_rules_nb(prices, t, k, st, span, buckets, rules, liquidity):
    """Stops, then ladders, of the book's open positions at mark t, in the book's order."""
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if not st.open_[b]:
            continue
        for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
            q = st.qty[p]
            if q == 0.0:
                continue
            price = prices[t, buckets.pos_asset[p]]
            if stop_fires_nb(price, p, st, buckets, rules):
                trader_close_nb(prices, t, p, b, q, st, buckets, liquidity)
                note_nb(st, STOPS, t)
                continue
            entry, opening = buckets.pos_entry[p], buckets.pos_qty[p]
            for r in range(rules.rung_start[p], rules.rung_end[p]):
                if st.rung_done[r] or st.qty[p] == 0.0:
                    continue
                if rung_fires_nb(price, entry, opening > 0.0, r, rules):
                    st.rung_done[r] = True
                    dq = rules.rung_close[r] * opening
                    if abs(st.qty[p]) - abs(dq) <= DUST * abs(opening):
                        dq = st.qty[p]  # what is left, not a rounding error's worth of it
                    trader_close_nb(prices, t, p, b, dq, st, buckets, liquidity)
                    note_nb(st, REDUCES, t)
        if is_empty_nb(b, st, buckets):
            st.free[k] += settle_empty_nb(b, st)


@njit(cache=CACHE)
def draw_nb(prices, t, k, want, st, span, buckets, tiers, rules):
    """Take up to `want` USDT for a top-up: the free balance first, then what the cross bucket
    holds above its positions' initial margin at the mark (a venue's transferable balance, so
    the transfer cannot liquidate it). Returns what was taken."""
    take = min(want, max(st.free[k], 0.0))
    st.free[k] -= take
    c = span.first_bucket[k]
    if take < want and st.open_[c] and not rules.bucket_isolated[c]:
        eq = bucket_equity_nb(prices, t, c, st, buckets, tiers)[0]
        initial = 0.0
        for p in range(buckets.bucket_start[c], buckets.bucket_end[c]):
            initial += abs(st.qty[p]) * prices[t, buckets.pos_asset[p]] * rules.initial_rate[p]
        more = min(want - take, max(eq - initial, 0.0))
        st.coll[c] -= more
        take += more
    return take


@njit(cache=CACHE)
def top_ups_nb(prices, t, k, st, span, buckets, tiers, rules):
    """Each isolated bucket at its top-up threshold gets one top-up at mark t."""
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if not bucket_top_up_due_nb(prices, t, b, st, buckets, tiers, rules):
            continue
        p = buckets.bucket_start[b]
        want = min(rules.top_amount[p], rules.top_cap[p] - st.topped[p])
        got = draw_nb(prices, t, k, want, st, span, buckets, tiers, rules)
        if got > 0.0:
            st.coll[b] += got
            st.tops[p] += 1
            st.topped[p] += got
            st.moved[0] += got
            note_nb(st, TOP_UPS, t)


@njit(cache=CACHE)
def liquidations_nb(prices, t, k, st, span, market, buckets, tiers, process, liquidity):
    """The venue's check of every open bucket at mark t, and its close of those breached."""
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if not st.open_[b]:
            continue
        equity, maint, _ = bucket_equity_nb(prices, t, b, st, buckets, tiers)
        if equity <= maint:
            first_breach_nb(prices, t, b, st, buckets)
            cut_fees = 0.0
            if process.kind == TIER_STEP_DOWN and equity >= 0.0:
                equity, cut, cut_fees = step_down_bucket_nb(
                    prices, t, b, equity, st, market, buckets, tiers, process, liquidity
                )
                if cut and equity >= 0.0:
                    st.fee[b] += cut_fees
                    continue  # checked again at the next mark
            venue_close_nb(
                prices, t, b, equity, cut_fees, st, market, buckets, tiers, process, liquidity
            )


@njit(cache=CACHE)
def step_down_bucket_nb(prices, t, b, equity, st, market, buckets, tiers, process, liquidity):
    """`stress.margin.processes.step_down_nb` on bucket b of this path's working copy (a local
    bucket whose arrays are views of it): (equity after, whether anything was cut, its fees)."""
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    local = Buckets(
        buckets.pos_asset[start:end],
        st.qty[start:end],
        buckets.pos_entry[start:end],
        np.zeros(1, dtype=np.int64),
        np.full(1, end - start, dtype=np.int64),
        st.coll[b : b + 1],
    )
    eq, cut_n, fees = step_down_nb(
        prices, t, equity, local, market, tiers, process, liquidity, st.venue_closed, start
    )
    if cut_n < 0.0:
        return equity, False, 0.0
    st.cuts[b] += 1
    st.cut_notional[b] += cut_n
    return eq, True, fees


@njit(cache=CACHE, inline="always")
def hard_stop_due_nb(prices, t, k, st, span, buckets, tiers, level):
    return (
        level > -np.inf
        and any_open_nb(k, st, span)
        and book_equity_nb(prices, t, k, st, span, buckets, tiers) <= level
    )


@njit(cache=CACHE)
def act_nb(prices, t, k, st, span, market, buckets, tiers, process, liquidity, rules):
    """What acts at mark t, in order: the hard stop (True: the book is closed), else the stops
    and ladders, the top-ups and the venue's liquidations."""
    if hard_stop_due_nb(prices, t, k, st, span, buckets, tiers, rules.book_stop[k]):
        close_book_nb(prices, t, k, st, span, buckets, liquidity)
        st.events[HARD_STOP] = t
        return True
    if rules_due_nb(prices, t, k, st, span, buckets, rules):
        position_rules_nb(prices, t, k, st, span, buckets, rules, liquidity)
    if top_up_due_nb(prices, t, k, st, span, buckets, tiers, rules):
        top_ups_nb(prices, t, k, st, span, buckets, tiers, rules)
    if breached_nb(prices, t, k, st, span, buckets, tiers):
        liquidations_nb(prices, t, k, st, span, market, buckets, tiers, process, liquidity)
    return False
