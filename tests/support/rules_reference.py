"""The trader's rules in plain Python, written from the text of `stress.margin.trader_rules`.

Written from the module docstring of `stress.margin.trader_rules` (the contract) and the plain
kernels' liquidation arithmetic (`stress.margin.kernels`, `stress.margin.processes`), never from
the compiled rules kernel: that independence is the point. Slow (a Python loop per path, book,
step and position); only for the small cases of the tests.

The rules are read from the layout's positions (their `stop_loss`, `reduce` and `top_up`), which
bucket is isolated from the book's mode (`stress.portfolios.modes.isolated_in`); only the hard
stop's level, which the layout keeps nowhere else, comes from ``layout.rules.book_stop``.

Readings of the docstring where it leaves a choice (kept in one place, here):

* a ``margin_fraction`` stop compares ``f x margin`` with the loss of the position's *current*
  quantity (after any rungs), ``-q (S - E)``;
* rungs that fire at the same mark are separate closes, in ladder order, each with the slippage
  of its own notional; a rung on a position another rung (or the stop) has just closed whole
  does not fire;
* a trader's close pays the slippage of the book's square-root law uncapped (the
  ``fillable_price`` cap is the venue's, for its liquidations);
* a top-up moves ``min(amount, cap left, free balance + cross surplus)``, partial amounts
  included, and counts only when something moved; funds come from ``max(free, 0)`` then
  ``max(cross equity - cross initial margin at the mark, 0)`` of the book's open cross bucket;
  a bucket at or below zero equity gets none;
* a book whose every bucket is closed (by the trader or the venue) is no longer "still open":
  its hard stop does not fire (nor count) however low its equity;
* the hard stop's book equity counts each liquidated bucket's kept value (a bucket the trader
  closed has already joined the free balance: it is not counted twice);
* the venue's liquidation (its fee, slippage and notional) and its trigger read the positions
  still open, at their current quantities; ``pos_liquidated`` marks only the positions the venue
  closed (those open at the liquidation), ``pos_triggered`` the one whose move since step 0 lost
  the most, first in order on ties.

``tier_step_down`` (the process's arithmetic from `stress.margin.processes`): a bucket's first
breach, partial or full, is its liquidation step and sets its trigger; a breach with equity >= 0
and an open position in a tier at or above ``full_close_tiers`` cuts each such position, in
order, to its next lower tier's cap (the fee on each cut out of the equity left after its
slippage); the bucket stays open (the trader's rules act on it from the next mark) unless the
cuts leave negative equity, when the rest is closed whole at the same mark. Every cut position
counts as liquidated; a breach with cuts counts one partial close (as the process kernel counts
them), its notional the sum of the cuts', also when a full close follows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from stress.margin.processes import FILLABLE_PRICE, FULL_CLOSE, TIER_STEP_DOWN
from stress.margin.trader_rules import RuleEvents
from stress.portfolios.modes import isolated_in

OPEN, CLOSED, LIQUIDATED = "open", "closed by the trader", "liquidated by the venue"


class RefResults(NamedTuple):
    """Per path and book (n_paths, K), per position (n_paths, P), and the rules' events."""

    final_equity: np.ndarray
    first_liq_step: np.ndarray
    bad_debt: np.ndarray
    fees_paid: np.ndarray
    pos_liquidated: np.ndarray
    pos_triggered: np.ndarray
    rule_events: RuleEvents
    partial_closes: np.ndarray  # int32: the venue's step-down cuts (breaches with a cut)
    partial_notional: np.ndarray  # float64: notional they closed, at the mark


@dataclass
class Venue:
    """What the reference reads of the market and the layout's tier tables."""

    funding: np.ndarray
    fee: float
    kind: int
    residual_to_trader: bool
    fill_multiple: float
    full_close_tiers: int
    liquidity: object  # stress.margin.slippage.Liquidity or None
    cap: np.ndarray
    mmr: np.ndarray
    amount: np.ndarray
    count: np.ndarray

    def tier(self, notional: float, a: int) -> int:
        i = 0
        while i < self.count[a] - 1 and notional > self.cap[a, i]:
            i += 1
        return i

    def maintenance(self, notional: float, a: int) -> float:
        i = self.tier(notional, a)
        return notional * self.mmr[a, i] - self.amount[a, i]

    def slippage(self, notional: float, a: int) -> float:
        """The square-root law's cost of a close of `notional` (0 without a book)."""
        liq = self.liquidity
        if liq is None or not liq.liquid[a]:
            return 0.0
        impact = liq.half_spread[a] + liq.impact_k[a] * liq.sigma_daily[a] * math.sqrt(
            notional / liq.depth[a]
        )
        return min(impact, 1.0) * notional


@dataclass
class Pos:
    index: int  # in the layout
    asset: int
    q0: float  # signed opening quantity
    entry: float
    spec: object  # the ResolvedPosition (its rules)
    q: float = 0.0
    fired: list = field(default_factory=list)  # per rung
    tops: int = 0
    topped: float = 0.0


@dataclass
class Bucket:
    positions: list
    coll: float
    isolated: bool
    paid: float = 0.0
    state: str = OPEN
    kept: float = 0.0
    breached: bool = False  # the venue has acted on it (its trigger is set)

    def open_positions(self):
        return [p for p in self.positions if p.q != 0.0]

    def equity(self, s) -> float:
        pnl = 0.0
        for p in self.open_positions():
            pnl += p.q * (s[p.asset] - p.entry)
        return (self.coll - self.paid) + pnl

    def maintenance(self, s, venue: Venue) -> float:
        m = 0.0
        for p in self.open_positions():
            m += venue.maintenance(abs(p.q) * s[p.asset], p.asset)
        return m


@dataclass
class Book:
    free: float
    buckets: list
    level: float  # the hard stop's equity level, -inf: none
    done: bool = False
    liq_step: int = -1
    bad: float = 0.0
    fees: float = 0.0
    counts: dict = field(default_factory=lambda: dict.fromkeys(("stop", "reduce", "top"), 0))
    steps: dict = field(
        default_factory=lambda: dict.fromkeys(("stop", "reduce", "top", "hard"), -1)
    )
    topped: float = 0.0
    cuts: int = 0
    cut_notional: float = 0.0

    def fired(self, rule: str, t: int) -> None:
        if rule != "hard":
            self.counts[rule] += 1
        if self.steps[rule] < 0:
            self.steps[rule] = t

    def equity(self, s) -> float:
        eq = self.free
        for b in self.buckets:
            if b.state == OPEN:
                eq += b.equity(s)
            elif b.state == LIQUIDATED:
                eq += b.kept
        return eq


def venue_of(layout, market) -> Venue:
    kinds = (FULL_CLOSE, FILLABLE_PRICE, TIER_STEP_DOWN)
    if market.process.kind not in kinds or market.adl is not None:
        raise NotImplementedError("the reference knows no slices and no ADL")
    return Venue(
        funding=np.asarray(market.funding),
        fee=market.liquidation_fee,
        kind=market.process.kind,
        residual_to_trader=market.process.residual_to_trader,
        fill_multiple=market.process.fill_multiple,
        full_close_tiers=market.process.full_close_tiers,
        liquidity=market.liquidity,
        cap=layout.tier_cap,
        mmr=layout.tier_mmr,
        amount=layout.tier_amount,
        count=layout.tier_count,
    )


def new_book(layout, k: int) -> Book:
    """Book k of the layout at the start of a path."""
    spec = layout.books[k]
    first = int(layout.book_first_position[k])
    level = -math.inf if layout.rules is None else float(layout.rules.book_stop[k])
    buckets = []
    for b in np.flatnonzero(layout.bucket_book == k):
        members = []
        for i in range(int(layout.bucket_start[b]), int(layout.bucket_end[b])):
            p = spec.positions[i - first]
            q0 = float(layout.pos_qty[i])
            members.append(Pos(i, int(layout.pos_asset[i]), q0, float(layout.pos_entry[i]), p))
            members[-1].q = q0
            members[-1].fired = [False] * len(p.reduce)
        single = len(members) == 1 and isolated_in(spec.mode, members[0].spec)
        buckets.append(Bucket(members, float(layout.bucket_collateral[b]), single))
    return Book(float(layout.book_free[k]), buckets, level)


def close_bucket(book: Book, b: Bucket) -> None:
    """A bucket left with no open position: its value joins the free balance, its deficit is
    bad debt."""
    eq = b.coll - b.paid
    book.free += max(0.0, eq)
    book.bad += max(0.0, -eq)
    b.state = CLOSED


def trader_close(book: Book, b: Bucket, p: Pos, size: float, s, venue: Venue) -> None:
    """Close `size` (base units, at most what is open) of p at the mark, less slippage."""
    price = s[p.asset]
    size = min(size, abs(p.q))
    if abs(p.q) - size <= 1e-9 * abs(p.q0):  # a ladder's rounding error closes the rest
        size = abs(p.q)
    dq = math.copysign(size, p.q)
    b.coll += dq * (price - p.entry) - venue.slippage(size * price, p.asset)
    p.q = 0.0 if size == abs(p.q) else p.q - dq
    if not b.open_positions():
        close_bucket(book, b)


def stop_fires(p: Pos, price: float) -> bool:
    stop = p.spec.stop_loss
    if stop is None:
        return False
    if stop.price is not None:
        return price <= stop.price if p.q > 0 else price >= stop.price
    return -p.q * (price - p.entry) >= stop.margin_fraction * p.spec.margin


def rung_fires(p: Pos, rung, price: float) -> bool:
    down = (p.q > 0) != (rung.direction == "favour")  # the move that fires it is a fall
    if down:
        return price <= p.entry * (1.0 - rung.move)
    return price >= p.entry * (1.0 + rung.move)


def stops_and_ladders(book: Book, s, t: int, venue: Venue) -> None:
    for b in book.buckets:
        for p in b.positions:
            if b.state != OPEN or p.q == 0.0:
                continue
            if stop_fires(p, s[p.asset]):
                trader_close(book, b, p, abs(p.q), s, venue)
                book.fired("stop", t)
                continue
            for r, rung in enumerate(p.spec.reduce):
                if p.q != 0.0 and not p.fired[r] and rung_fires(p, rung, s[p.asset]):
                    p.fired[r] = True
                    trader_close(book, b, p, rung.close * abs(p.q0), s, venue)
                    book.fired("reduce", t)


def top_ups(book: Book, s, t: int, venue: Venue) -> None:
    cross = [b for b in book.buckets if not b.isolated and b.state == OPEN]
    for b in book.buckets:
        if b.state != OPEN or not b.isolated or b.positions[0].spec.top_up is None:
            continue
        p, rule = b.positions[0], b.positions[0].spec.top_up
        equity = b.equity(s)
        if equity <= 0.0 or not equity * rule.at_margin_ratio <= b.maintenance(s, venue):
            continue
        amount = p.spec.initial_margin if rule.amount == "initial" else rule.amount
        cap = math.inf if rule.cap is None else rule.cap
        if p.tops >= rule.max_times:
            continue
        want = min(amount, cap - p.topped)
        from_free = min(want, max(book.free, 0.0))
        # what the cross bucket holds above its open positions' initial margin at the mark
        surplus = (
            cross[0].equity(s)
            - sum(abs(c.q) * s[c.asset] / c.spec.leverage for c in cross[0].positions if c.q)
            if cross
            else 0.0
        )
        from_cross = min(want - from_free, max(surplus, 0.0))
        moved = from_free + from_cross
        if moved <= 0.0:
            continue
        book.free -= from_free
        if cross:
            cross[0].coll -= from_cross
        b.coll += moved
        p.tops += 1
        p.topped += moved
        book.topped += moved
        book.fired("top", t)


def close_whole(book: Book, b: Bucket, eq: float, s, venue: Venue, liq_row) -> None:
    """The venue's whole close of bucket b's open positions at the mark, from equity `eq`."""
    open_ = b.open_positions()
    cost, notional = 0.0, 0.0
    for p in open_:
        n = abs(p.q) * s[p.asset]
        notional += n
        c = venue.slippage(n, p.asset)
        if venue.kind == FILLABLE_PRICE and c > 0.0:
            c = min(c, venue.fill_multiple * venue.maintenance(n, p.asset))
        cost += c
    eq -= cost
    fee = venue.fee * notional
    b.kept = max(eq - fee, 0.0) if venue.residual_to_trader else 0.0
    book.bad += max(-eq, 0.0)
    book.fees += min(fee, max(eq, 0.0))
    b.state = LIQUIDATED
    for p in open_:
        liq_row[p.index] = True


def step_down(book: Book, b: Bucket, eq: float, s, venue: Venue, liq_row) -> float | None:
    """Cut every open position of b in a tier at or above ``full_close_tiers`` to its next
    lower tier's cap: the equity after, or None when none is there (nothing done)."""
    low = venue.full_close_tiers
    above = [p for p in b.open_positions() if venue.tier(abs(p.q) * s[p.asset], p.asset) >= low]
    if not above:
        return None
    for p in above:
        price = s[p.asset]
        cap = venue.cap[p.asset, venue.tier(abs(p.q) * price, p.asset) - 1]
        keep = cap / price
        if keep * price > cap:  # in the lower tier, not an ulp above its cap
            keep = float(np.nextafter(keep, 0.0))
        new_q = math.copysign(keep, p.q)
        dq = p.q - new_q  # the part closed
        n = abs(dq) * price
        cost = venue.slippage(n, p.asset)
        eq -= cost
        fee = min(venue.fee * n, max(eq, 0.0))
        eq -= fee
        b.coll += (dq * (price - p.entry) - cost) - fee
        p.q = new_q
        book.fees += fee
        book.cut_notional += n
        liq_row[p.index] = True
    book.cuts += 1
    return eq


def liquidate(book: Book, b: Bucket, s, s0, t: int, venue: Venue, liq_row, trig_row) -> None:
    """The venue's process on a breach of bucket b at mark t."""
    open_ = b.open_positions()
    if not b.breached:  # the bucket's first liquidation step: its trigger
        b.breached = True
        book.liq_step = t if book.liq_step < 0 else book.liq_step
        moves = [p.q * (s[p.asset] - s0[p.asset]) for p in open_]
        trig_row[open_[int(np.argmin(moves))].index] = True
    eq = b.equity(s)
    if venue.kind == TIER_STEP_DOWN and eq >= 0.0:
        after = step_down(book, b, eq, s, venue, liq_row)
        if after is not None and after >= 0.0:
            return  # open, checked again at the next mark
        eq = eq if after is None else after
    close_whole(book, b, eq, s, venue, liq_row)


def mark(book: Book, s, s0, t: int, venue: Venue, liq_row, trig_row) -> None:
    """Steps 1-5 of the docstring at mark t."""
    if all(b.state != OPEN for b in book.buckets):
        return  # nothing open: not a book "still open", its hard stop has nothing to close
    rate = venue.funding[t]
    for b in book.buckets:
        if b.state == OPEN and rate != 0.0:
            paid = 0.0
            for p in b.open_positions():
                paid += p.q * s[p.asset] * rate
            b.paid += paid
    if book.equity(s) <= book.level:
        for b in book.buckets:
            for p in b.positions:
                if b.state == OPEN and p.q != 0.0:
                    trader_close(book, b, p, abs(p.q), s, venue)
        book.fired("hard", t)
        book.done = True
        return
    stops_and_ladders(book, s, t, venue)
    top_ups(book, s, t, venue)
    for b in book.buckets:
        if b.state == OPEN and b.equity(s) <= b.maintenance(s, venue):
            liquidate(book, b, s, s0, t, venue, liq_row, trig_row)


def reference_rules(layout, market, prices) -> RefResults:
    """The layout's books with their rules on `prices` (n_paths, n_steps + 1, n_assets)."""
    venue = venue_of(layout, market)
    n_paths, n_times, _ = prices.shape
    shape, n_pos = (n_paths, layout.n_books), layout.pos_qty.shape[0]
    out = RefResults(
        np.zeros(shape), np.full(shape, -1), np.zeros(shape), np.zeros(shape),
        np.zeros((n_paths, n_pos), dtype=bool), np.zeros((n_paths, n_pos), dtype=bool),
        RuleEvents(*(np.zeros(shape, dtype=np.int32) for _ in range(6)), np.zeros(shape),
                   np.zeros(shape, dtype=np.int32)),
        np.zeros(shape, dtype=np.int32), np.zeros(shape),
    )  # fmt: skip
    ev = out.rule_events
    for i in range(n_paths):
        for k in range(layout.n_books):
            book, rows = new_book(layout, k), (out.pos_liquidated[i], out.pos_triggered[i])
            for t in range(n_times):
                if book.done:
                    break
                mark(book, prices[i, t], prices[i, 0], t, venue, *rows)
            out.final_equity[i, k] = book.equity(prices[i, -1])
            out.first_liq_step[i, k] = book.liq_step
            out.bad_debt[i, k], out.fees_paid[i, k] = book.bad, book.fees
            out.partial_closes[i, k], out.partial_notional[i, k] = book.cuts, book.cut_notional
            ev.stops[i, k], ev.reduces[i, k] = book.counts["stop"], book.counts["reduce"]
            ev.top_ups[i, k], ev.top_up_amount[i, k] = book.counts["top"], book.topped
            ev.stop_step[i, k], ev.reduce_step[i, k] = book.steps["stop"], book.steps["reduce"]
            ev.top_up_step[i, k], ev.hard_stop_step[i, k] = book.steps["top"], book.steps["hard"]
    return out
