"""Compiled marking of books under the trader's rules (`stress.margin.trader_rules`).

A book is marked as a whole, every mark of every path (no stretch is skipped: a rule can fire
anywhere; `scan_nb` runs to the next mark where something acts, `stress.margin.rules_acts`
acts there), because its buckets interact: a top-up draws on the free balance or the cross bucket
and a hard stop looks at the whole account. Each path gets its own copy of the quantities and
collateral (the layout's arrays are read-only); books are marked one after the other on it.

The arithmetic of funding, equity, maintenance and the venue's close is that of
`stress.margin.kernels` and `stress.margin.processes`, in the same order, skipping positions a
rule has closed (quantity exactly 0): rules that never fire give every number of those kernels
bit for bit. As there, the parallel kernel binds every output field to a local name before its
prange loop (numba drops writes made there through a named tuple's attribute).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from stress.margin.kernels import CACHE, maintenance_nb
from stress.margin.rules_acts import act_nb
from stress.margin.rules_book import HARD_STOP, book_equity_nb, bucket_equity_nb
from stress.margin.rules_state import BookOutcome, make_state_nb


@njit(cache=CACHE)
def reset_book_nb(k, st, span, buckets, rules):
    """Start book k afresh on this path: its positions, collateral and counters."""
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        st.coll[b] = buckets.bucket_collateral[b]
        st.paid[b] = 0.0
        st.open_[b] = True
        st.value[b] = 0.0
        st.liq[b] = -1
        st.bad[b] = 0.0
        st.fee[b] = 0.0
        st.trig[b] = -1
        st.cuts[b] = 0
        st.cut_notional[b] = 0.0
        for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
            st.qty[p] = buckets.pos_qty[p]
            st.venue_closed[p] = False
            st.tops[p] = 0
            st.topped[p] = 0.0
            for r in range(rules.rung_start[p], rules.rung_end[p]):
                st.rung_done[r] = False
    st.free[k] = span.free[k]
    for j in range(0, 6, 2):
        st.events[j] = 0
        st.events[j + 1] = -1
    st.events[HARD_STOP] = -1
    st.moved[0] = 0.0


@njit(cache=CACHE, inline="always")
def pay_nb(prices, t, rate, start, end, qty, pos_asset):
    """Funding paid at mark t by positions start:end still open (`open_funding_nb`'s sum)."""
    pay = 0.0
    for p in range(start, end):
        if qty[p] != 0.0:
            pay += qty[p] * prices[t, pos_asset[p]] * rate
    return pay


@njit(cache=CACHE, inline="always")
def rung_due_nb(price, entry, long, r0, r1, rungs):
    """Whether a rung r0:r1 not yet fired has been reached (`rules_acts.rung_fires_nb`)."""
    rung_move, rung_favour, rung_done = rungs
    for r in range(r0, r1):
        if rung_done[r]:
            continue
        if long != rung_favour[r]:
            if price <= entry * (1.0 - rung_move[r]):
                return True
        elif price >= entry * (1.0 + rung_move[r]):
            return True
    return False


@njit(cache=CACHE, inline="always")
def positions_nb(
    prices, t, start, end, qty, pos_asset, pos_entry, opening, tiers, stops, rung_start, rung_end,
    rungs,
):  # fmt: skip
    """(unrealised PnL, maintenance, whether a stop or rung fires) of positions start:end at
    mark t (`open_parts_nb`'s sums, `rules_acts.rules_due_nb`'s test)."""
    stop_price, stop_loss = stops
    pnl = 0.0
    maint = 0.0
    event = False
    for p in range(start, end):
        q = qty[p]
        if q == 0.0:
            continue
        a = pos_asset[p]
        price = prices[t, a]
        gain = q * (price - pos_entry[p])
        pnl += gain
        maint += maintenance_nb(abs(q) * price, a, tiers)
        level = stop_price[p]
        if q > 0.0 and price <= level or q < 0.0 and price >= level:
            event = True
        if -gain >= stop_loss[p]:
            event = True
        if rung_start[p] < rung_end[p] and rung_due_nb(
            price, pos_entry[p], opening[p] > 0.0, rung_start[p], rung_end[p], rungs
        ):
            event = True
    return pnl, maint, event


@njit(cache=CACHE)
def scan_nb(prices, t0, k, st, span, market, buckets, tiers, rules, trace):
    """Mark book k from mark t0 on, paying funding, up to the first mark where something acts
    (a rule or the venue): returns that mark (its funding paid), or the number of marks.

    The checks of `act_nb` written out over arrays bound to local names, with the same
    arithmetic: numba keeps reference counts of the arrays of named tuples passed down to
    inlined helpers at every mark once the loop grows, which measured 100 times slower (and
    this loop's speed is sensitive to how it is split: measure with benchmarks/bench_rules.py).
    """
    funding, n_times, level = market.funding, prices.shape[0], rules.book_stop[k]
    recording = trace.shape[0] == n_times
    qty, coll, paid, open_, value = st.qty, st.coll, st.paid, st.open_, st.value
    pos_asset, pos_entry, opening = buckets.pos_asset, buckets.pos_entry, buckets.pos_qty
    bucket_start, bucket_end, isolated = (
        buckets.bucket_start,
        buckets.bucket_end,
        rules.bucket_isolated,
    )
    stops, rung_start, rung_end = (
        (rules.stop_price, rules.stop_loss),
        rules.rung_start,
        rules.rung_end,
    )
    rules_rungs = (rules.rung_move, rules.rung_favour, st.rung_done)
    top_ratio, top_times, top_cap, tops, topped = (
        rules.top_ratio, rules.top_times, rules.top_cap, st.tops, st.topped
    )  # fmt: skip
    for t in range(t0, n_times):
        rate = funding[t]
        book = st.free[k]
        any_open = False
        event = False
        for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
            if not open_[b]:
                book += value[b]
                continue
            any_open = True
            start, end = bucket_start[b], bucket_end[b]
            if rate != 0.0:
                paid[b] += pay_nb(prices, t, rate, start, end, qty, pos_asset)
            pnl, maint, due = positions_nb(
                prices, t, start, end, qty, pos_asset, pos_entry, opening, tiers, stops,
                rung_start, rung_end, rules_rungs,
            )  # fmt: skip
            event = event or due
            equity = (coll[b] - paid[b]) + pnl
            book += equity
            if equity <= maint:
                event = True
            p = start
            if isolated[b] and top_ratio[p] > 0.0 and tops[p] < top_times[p]:
                if topped[p] < top_cap[p] and equity > 0.0 and equity * top_ratio[p] <= maint:
                    event = True
        if not any_open:  # nothing left to mark: the book's equity is final
            if recording:
                trace[t:] = book
            return n_times
        if event or book <= level:
            return t
        if recording:
            trace[t] = book
    return n_times


@njit(cache=CACHE)
def mark_book_nb(prices, k, st, span, market, buckets, tiers, process, liquidity, rules, trace):
    """Mark book k along one path under the rules (see `stress.margin.trader_rules`); `trace`
    (n_steps + 1,) records its equity after each mark, or is empty."""
    reset_book_nb(k, st, span, buckets, rules)
    n_times = prices.shape[0]
    recording = trace.shape[0] == n_times
    t = scan_nb(prices, 0, k, st, span, market, buckets, tiers, rules, trace)
    while t < n_times:
        closed = act_nb(prices, t, k, st, span, market, buckets, tiers, process, liquidity, rules)
        if recording:
            trace[t:] = book_equity_nb(prices, t, k, st, span, buckets, tiers)
        if closed:
            break
        t = scan_nb(prices, t + 1, k, st, span, market, buckets, tiers, rules, trace)
    last = n_times - 1
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        if st.open_[b]:
            st.value[b] = bucket_equity_nb(prices, last, b, st, buckets, tiers)[0]
    return outcome_nb(k, st, span)


@njit(cache=CACHE, inline="always")
def outcome_nb(k, st, span):
    """The book's results, summed as `stress.margin.aggregate.books_from_buckets_nb` does."""
    equity = st.free[k]
    bad = 0.0
    fees = 0.0
    first = -1
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        equity += st.value[b]
        bad += st.bad[b]
        fees += st.fee[b]
        s = st.liq[b]
        if s >= 0 and (first < 0 or s < first):
            first = s
    cuts = 0
    cut_notional = 0.0
    for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
        cuts += st.cuts[b]
        cut_notional += st.cut_notional[b]
    ev = st.events
    return BookOutcome(
        equity, first, bad, fees, ev[0], ev[1], ev[2], ev[3], ev[4], ev[5], st.moved[0], ev[6],
        cuts, cut_notional,
    )  # fmt: skip


@njit(cache=CACHE, parallel=True)
def mark_books_rules_nb(
    prices, market, buckets, tiers, process, liquidity, rules, span, out, events, partial,
    out_trace,
):  # fmt: skip
    """Mark every book along every path of a chunk under the trader's rules.

    Parameters
    ----------
    prices : ndarray (n_paths, n_steps + 1, n_assets) float64
    market, buckets, tiers : `stress.margin.kernels` `Market`, `Buckets`, `Tiers`
    process, liquidity : `stress.margin.processes.Process` (not ``slices``), the books
    rules : `stress.margin.trader_rules.RuleArrays`
    span : BookSpan
    out : `stress.margin.aggregate.BookResults` of (n_paths, K) and (n_paths, P) arrays, written
    events : `stress.margin.trader_rules.RuleEvents`, written
    partial : (count, notional) of the venue's partial closes per book, (n_paths, K) int32 and
        float64 arrays written under ``tier_step_down``, or two (0, 0) arrays
    out_trace : (n_paths, K, n_steps + 1) for every book's equity after every mark, or (0, 0, 0)
    """
    n_paths = prices.shape[0]
    n_pos = buckets.pos_qty.shape[0]
    n_buckets = buckets.bucket_collateral.shape[0]
    n_books = span.free.shape[0]
    n_rungs = rules.rung_move.shape[0]
    record = out_trace.shape[0] == n_paths
    no_trace = np.empty(0)
    # bound to names outside the prange loop (numba issues #7135, #10338)
    equity, first, bad, fees = out.final_equity, out.first_liq_step, out.bad_debt, out.fees_paid
    pos_liquidated, pos_triggered = out.pos_liquidated, out.pos_triggered
    stops, stop_step, reduces, reduce_step = (
        events.stops,
        events.stop_step,
        events.reduces,
        events.reduce_step,
    )
    top_ups, top_up_step, top_up_amount = (events.top_ups, events.top_up_step, events.top_up_amount)
    hard_stop_step = events.hard_stop_step
    cut_count, cut_notional = partial
    cutting = cut_count.shape[0] == n_paths
    for i in prange(n_paths):
        st = make_state_nb(n_pos, n_buckets, n_books, n_rungs)
        path = prices[i]
        for k in range(n_books):
            trace = out_trace[i, k] if record else no_trace
            o = mark_book_nb(
                path, k, st, span, market, buckets, tiers, process, liquidity, rules, trace
            )
            equity[i, k], first[i, k], bad[i, k], fees[i, k] = (
                o.equity,
                o.first_liq,
                o.bad_debt,
                o.fees,
            )
            stops[i, k], stop_step[i, k] = o.stops, o.stop_step
            reduces[i, k], reduce_step[i, k] = o.reduces, o.reduce_step
            top_ups[i, k], top_up_step[i, k] = o.top_ups, o.top_up_step
            top_up_amount[i, k], hard_stop_step[i, k] = o.top_up_amount, o.hard_stop_step
            if cutting:
                cut_count[i, k], cut_notional[i, k] = o.partial_closes, o.partial_notional
            for b in range(span.first_bucket[k], span.first_bucket[k + 1]):
                for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
                    pos_liquidated[i, p] = st.venue_closed[p]
                    pos_triggered[i, p] = st.trig[b] == p
