"""The trader's own rules, as the kernels read them: stops, reduce ladders, auto top-ups and the
account's hard stop.

A book with a rule is marked by `stress.margin.rules_kernel`, every mark of every path, the book
as a whole: a top-up moves money between its buckets and a hard stop looks at all of them. A run
whose portfolios have no rule never comes here (the plain and process kernels run untouched).

At each mark t of a path, for each book still open, in this order:

1. **Funding.** At a funding boundary every open bucket pays its open positions' funding, as in
   `stress.margin.kernels` (``paid``, kept apart from the collateral).
2. **Hard stop** (``account.hard_stop``). The book's equity is its free balance, plus each open
   bucket's ``(collateral - paid) + unrealised PnL``, plus what each closed bucket left. When it
   is at or below the stop's level (``(1 - drawdown) x`` the starting equity, or ``equity``)
   every open position is closed at the mark (below, *a trader's close*) and the book does
   nothing more on the path.
3. **Stops and ladders**, position by position in the book's order, for positions still open:
   a ``stop_loss`` with a ``price`` fires at the first mark at or below it (a long) or at or
   above it (a short); with ``margin_fraction`` f, at the first mark where the position's
   unrealised loss ``-q (S - E)`` is at least ``f x`` its margin (the isolated allocation, by
   default its initial margin, in every mode). A stop closes the position whole. Then each rung
   of its ``reduce`` ladder not yet fired fires when the mark has moved ``move`` from the entry
   price against the position (a long: ``S <= E (1 - move)``; a short: ``S >= E (1 + move)``)
   or in its favour (``direction: favour``; the other way round), closing ``close`` of the
   opening size (or what is left, if less, or within a billionth of the opening size of it).
   Each rung fires at most once.
4. **Top-ups**, isolated buckets only (a position of a cross bucket ignores its ``top_up``):
   when the bucket's equity ``e`` is positive and its maintenance ``m`` satisfies
   ``e x at_margin_ratio <= m`` (its margin ratio ``m / e`` has reached the threshold),
   ``amount`` (USDT, or the position's initial margin) is moved into its collateral, at most
   once per mark, at most ``max_times`` times and ``cap`` USDT in all. The money comes from the
   book's free balance first, then from what its cross bucket holds above its positions'
   initial margin at the mark (a venue's transferable balance: the transfer cannot liquidate
   the cross bucket), never more than there is; with neither, nothing moves. A bucket whose
   equity is already at or below 0 gets nothing (the venue liquidates it; a top-up would only
   pay its deficit).
5. **Liquidation** of every open bucket still holding a position, exactly as the venue's process
   does it (`stress.margin.processes`: ``full_close`` or ``fillable_price``, the residual to the
   trader or the venue, slippage on the venue's books).

The trader's rules act before the venue at the same mark: a stop rests on the venue as an order
and, in continuous time, the price crosses a stop placed inside the liquidation price before it
reaches the liquidation price; Bybit's auto-add margin acts when a position nears its
liquidation. The fill is at the mark, not at the stop's level: a price that gapped past the stop
fills where it gapped to.

**A trader's close** of a quantity dq of a position at mark S fills at the mark less the
slippage of its notional on the asset's book (`stress.margin.slippage`; 0 without a book), and
pays no liquidation fee (trading fees are not modelled). Its PnL ``dq (S - E) - slippage`` is
booked into the bucket's collateral and the rest of the position keeps its entry price. A bucket
left with no open position is closed: it leaves ``max(0, equity)`` to the trader and its deficit
``max(0, -equity)`` is bad debt; its value joins the book's free balance (so a later top-up can
use it). A bucket the venue liquidates leaves what the process gives the trader, kept apart as
without rules (it does not join the free balance).

Results per book and path: the final equity (free balance + every bucket's value, at the
horizon for open ones), the first venue liquidation step (-1: none), bad debt and liquidation
fees summed over the buckets, which positions the venue closed and which set off the bucket's
liquidation (as in `stress.margin.engine.PathResults`), and per rule (`RuleEvents`) how many
times it fired on the path and the first step it did.

With rules that never fire, every number is that of the plain kernels (the same arithmetic in
the same order).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from stress.portfolios.modes import isolated_in

INITIAL = -1.0
"""`RuleArrays.top_amount` of a top-up of one initial margin (resolved per position)."""


class RuleArrays(NamedTuple):
    """The rules of every position (P) and book (K) of a layout, flat, for the kernel."""

    stop_price: np.ndarray  # (P,) float64, NaN: no price stop
    stop_loss: np.ndarray  # (P,) float64: unrealised loss (USDT) that fires the stop, inf: none
    rung_start: np.ndarray  # (P,) int64: first rung of the position's ladder in the rung arrays
    rung_end: np.ndarray  # (P,) int64
    rung_move: np.ndarray  # (R,) float64
    rung_close: np.ndarray  # (R,) float64: share of the opening size
    rung_favour: np.ndarray  # (R,) bool: the move is in the position's favour (else against)
    top_ratio: np.ndarray  # (P,) float64: margin ratio that fires a top-up, 0: no top-up
    top_amount: np.ndarray  # (P,) float64, USDT per top-up
    top_times: np.ndarray  # (P,) int64
    top_cap: np.ndarray  # (P,) float64, inf: no cap
    initial_rate: np.ndarray  # (P,) float64: 1 / leverage, a position's initial margin rate
    bucket_isolated: np.ndarray  # (B,) bool
    book_stop: np.ndarray  # (K,) float64: equity at or below which the book is closed, -inf


class RuleEvents(NamedTuple):
    """How often each rule fired per book and path (int32, (n_paths, K)) and the first step it
    did (int32, -1: never); ``top_up_amount`` is the USDT moved by top-ups (float64)."""

    stops: np.ndarray
    stop_step: np.ndarray
    reduces: np.ndarray
    reduce_step: np.ndarray
    top_ups: np.ndarray
    top_up_step: np.ndarray
    top_up_amount: np.ndarray
    hard_stop_step: np.ndarray

    @classmethod
    def empty(cls, n_paths: int, n_books: int) -> RuleEvents:
        shape = (n_paths, n_books)
        i32 = lambda: np.empty(shape, dtype=np.int32)  # noqa: E731
        return cls(i32(), i32(), i32(), i32(), i32(), i32(), np.empty(shape), i32())


RULE_NAMES = ("stop_loss", "reduce", "top_up", "hard_stop")
"""The rules, in the order of the report's tables."""


def _position_rules(p, rungs: list[tuple[float, float, bool]]) -> tuple:
    stop = p.stop_loss
    price = np.nan if stop is None or stop.price is None else stop.price
    loss = (
        np.inf if stop is None or stop.margin_fraction is None else stop.margin_fraction * p.margin
    )
    start = len(rungs)
    for r in p.reduce:
        rungs.append((r.move, r.close, r.direction == "favour"))
    top = p.top_up
    if top is None:
        top_rule = (0.0, 0.0, 0, np.inf)
    else:
        amount = p.initial_margin if top.amount == "initial" else float(top.amount)
        top_rule = (
            top.at_margin_ratio,
            amount,
            top.max_times,
            np.inf if top.cap is None else top.cap,
        )
    return (price, loss, start, len(rungs), *top_rule)


def rule_arrays(layout, portfolios) -> RuleArrays:
    """The rules of a layout's positions (`stress.margin.layout.Layout`, in its order) and of its
    books' portfolios (`stress.portfolios.resolve.ResolvedPortfolio`, in layout order)."""
    rows, rungs = [], []
    isolated = []
    stops = []
    for book in layout.books:
        for p in book.positions:
            rows.append(_position_rules(p, rungs))
        port = portfolios[book.portfolio]
        stops.append(book_stop_level(port, layout.book_initial_equity[len(stops)]))
    for b in range(layout.n_buckets):
        start = layout.bucket_start[b]
        book = layout.books[layout.bucket_book[b]]
        first = layout.book_first_position[layout.bucket_book[b]]
        position = book.positions[start - first]
        single = layout.bucket_end[b] - start == 1
        isolated.append(bool(single and isolated_in(book.mode, position)))
    cols = list(zip(*rows, strict=True))
    moves = [r[0] for r in rungs]
    return RuleArrays(
        stop_price=np.asarray(cols[0], dtype=np.float64),
        stop_loss=np.asarray(cols[1], dtype=np.float64),
        rung_start=np.asarray(cols[2], dtype=np.int64),
        rung_end=np.asarray(cols[3], dtype=np.int64),
        rung_move=np.asarray(moves, dtype=np.float64),
        rung_close=np.asarray([r[1] for r in rungs], dtype=np.float64),
        rung_favour=np.asarray([r[2] for r in rungs], dtype=np.bool_),
        top_ratio=np.asarray(cols[4], dtype=np.float64),
        top_amount=np.asarray(cols[5], dtype=np.float64),
        top_times=np.asarray(cols[6], dtype=np.int64),
        top_cap=np.asarray(cols[7], dtype=np.float64),
        initial_rate=np.array([1.0 / p.leverage for b in layout.books for p in b.positions]),
        bucket_isolated=np.asarray(isolated, dtype=np.bool_),
        book_stop=np.asarray(stops, dtype=np.float64),
    )


def book_stop_level(portfolio, initial_equity: float) -> float:
    """The equity at or below which the portfolio's hard stop closes its book (-inf: none)."""
    stop = portfolio.hard_stop
    if stop is None:
        return -np.inf
    if stop.equity is not None:
        return float(stop.equity)
    return (1.0 - stop.drawdown) * initial_equity
