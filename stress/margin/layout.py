"""Portfolios x margin modes -> margin buckets in flat arrays.

A bucket is a pool of collateral backing some positions. Isolated = one bucket per position,
cross = one bucket for all, as_configured = one cross bucket plus the isolated ones. A "book" is
one portfolio under one mode: its buckets plus the free balance no bucket holds. Once encoded
this way the kernels need no notion of mode at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from stress.margin.bucket_twins import Twins, bucket_twins
from stress.margin.trader_rules import RuleArrays, rule_arrays
from stress.portfolios.modes import mode_buckets
from stress.portfolios.resolve import ResolvedPortfolio, ResolvedPosition
from stress.venues.tiers import TierTable


@dataclass(frozen=True)
class Book:
    portfolio: int  # index into the portfolio list
    mode: str
    positions: tuple[ResolvedPosition, ...]  # in the order of the engine's position arrays


@dataclass(frozen=True)
class Layout:
    """Flat arrays for the kernels; buckets are contiguous per book, positions per bucket.

    Shapes: P = positions over all books, B = buckets, K = books, A = assets, T = max tiers.
    """

    books: tuple[Book, ...]
    pos_asset: np.ndarray  # (P,) int64
    pos_qty: np.ndarray  # (P,) float64, signed: > 0 long, < 0 short
    pos_entry: np.ndarray  # (P,) float64
    pos_bucket: np.ndarray  # (P,) int64
    bucket_start: np.ndarray  # (B,) int64: first position of the bucket
    bucket_end: np.ndarray  # (B,) int64: one past its last position
    bucket_collateral: np.ndarray  # (B,) float64
    bucket_book: np.ndarray  # (B,) int64
    book_first_bucket: np.ndarray  # (K,) int64, for np.*.reduceat over buckets
    book_first_position: np.ndarray  # (K,) int64
    book_free: np.ndarray  # (K,) float64: wallet held by no bucket
    book_initial_equity: np.ndarray  # (K,) float64: wallet + unrealised PnL at current marks
    book_wallet: np.ndarray  # (K,) float64
    tier_cap: np.ndarray  # (A, T) float64, padded with inf
    tier_mmr: np.ndarray  # (A, T) float64
    tier_amount: np.ndarray  # (A, T) float64
    tier_count: np.ndarray  # (A,) int64
    tier_convex: np.ndarray  # (A,) bool: maintenance continuous at the caps, rates never falling
    # the trader's rules (`stress.margin.trader_rules`), None when no portfolio has one
    rules: RuleArrays | None = None

    @property
    def n_books(self) -> int:
        return len(self.books)

    @cached_property
    def _portfolio_books(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for k, book in enumerate(self.books):
            groups.setdefault(book.portfolio, []).append(k)
        return groups

    def books_of(self, k_port: int) -> list[int]:
        """Indices of the books (one per mode) of portfolio ``k_port``."""
        return self._portfolio_books[k_port]

    @property
    def n_buckets(self) -> int:
        return int(self.bucket_collateral.shape[0])

    @cached_property
    def twins(self) -> Twins:
        """Identical buckets, marked once by the plain kernel (`stress.margin.bucket_twins`)."""
        return bucket_twins(
            self.pos_asset,
            self.pos_qty,
            self.pos_entry,
            self.bucket_start,
            self.bucket_end,
            self.bucket_collateral,
        )


CONTINUITY = 1e-12
"""Largest jump in maintenance at a cap, relative to the cap, that still counts as continuous.

Published amounts ("cum") are rounded, so a table derived by continuity on the venue's side can
jump by a rounding error here. The kernels' safe-stretch test keeps a relative headroom of
1e-9 of the notionals (`stress.margin.kernels.SAFETY`), far above such a jump, so treating it
as continuous cannot skip a step that liquidates."""


def is_convex(table: TierTable) -> bool:
    """True where maintenance is convex in the notional: continuous at every cap (within
    `CONTINUITY`) with rates that never fall, so the margin surplus is concave in the price."""
    cap, mmr, amount = table.cap[:-1], table.mmr, table.amount
    below = cap * mmr[:-1] - amount[:-1]
    above = cap * mmr[1:] - amount[1:]
    continuous = np.abs(above - below) <= CONTINUITY * cap
    return bool(np.all(continuous) and np.all(np.diff(mmr) >= 0.0))


def tier_arrays(tables: list[TierTable]) -> tuple[np.ndarray, ...]:
    """Pad per-asset tier tables into (A, T) arrays for the kernels, with a convexity flag."""
    width = max(len(t.cap) for t in tables)
    cap = np.full((len(tables), width), np.inf)
    mmr = np.zeros((len(tables), width))
    amount = np.zeros((len(tables), width))
    count = np.zeros(len(tables), dtype=np.int64)
    convex = np.zeros(len(tables), dtype=np.bool_)
    for a, t in enumerate(tables):
        n = len(t.cap)
        cap[a, :n], mmr[a, :n], amount[a, :n], count[a] = t.cap, t.mmr, t.amount, n
        cap[a, n - 1] = np.inf  # beyond the last bracket the last tier's rate applies
        convex[a] = is_convex(t)
    return cap, mmr, amount, count, convex


def build_layout(
    portfolios: list[ResolvedPortfolio],
    modes: list[str],
    tables: list[TierTable],
    s0: np.ndarray,
) -> Layout:
    """Encode every (portfolio, mode) book as buckets; `tables` and `s0` are per asset."""
    books, pos_rows, bucket_rows = [], [], []
    book_first_bucket, book_first_position, free, init_eq, wallets = [], [], [], [], []
    for k_port, port in enumerate(portfolios):
        upnl0 = sum(
            p.sign * p.quantity * (s0[p.asset_index] - p.entry_price) for p in port.positions
        )
        for mode in modes:
            buckets, free_balance = mode_buckets(port.positions, mode, port.wallet)
            book_first_bucket.append(len(bucket_rows))
            book_first_position.append(len(pos_rows))
            ordered = []
            for collateral, members in buckets:
                start = len(pos_rows)
                for p in members:
                    pos_rows.append(
                        (p.asset_index, p.sign * p.quantity, p.entry_price, len(bucket_rows))
                    )
                    ordered.append(p)
                bucket_rows.append((start, len(pos_rows), collateral, len(books)))
            books.append(Book(portfolio=k_port, mode=mode, positions=tuple(ordered)))
            free.append(free_balance)
            init_eq.append(port.wallet + upnl0)
            wallets.append(port.wallet)
    cap, mmr, amount, count, convex = tier_arrays(tables)
    pos = list(zip(*pos_rows, strict=True))
    bkt = list(zip(*bucket_rows, strict=True))
    layout = Layout(
        books=tuple(books),
        pos_asset=np.asarray(pos[0], dtype=np.int64),
        pos_qty=np.asarray(pos[1], dtype=np.float64),
        pos_entry=np.asarray(pos[2], dtype=np.float64),
        pos_bucket=np.asarray(pos[3], dtype=np.int64),
        bucket_start=np.asarray(bkt[0], dtype=np.int64),
        bucket_end=np.asarray(bkt[1], dtype=np.int64),
        bucket_collateral=np.asarray(bkt[2], dtype=np.float64),
        bucket_book=np.asarray(bkt[3], dtype=np.int64),
        book_first_bucket=np.asarray(book_first_bucket, dtype=np.int64),
        book_first_position=np.asarray(book_first_position, dtype=np.int64),
        book_free=np.asarray(free, dtype=np.float64),
        book_initial_equity=np.asarray(init_eq, dtype=np.float64),
        book_wallet=np.asarray(wallets, dtype=np.float64),
        tier_cap=cap,
        tier_mmr=mmr,
        tier_amount=amount,
        tier_count=count,
        tier_convex=convex,
    )
    if any(port.has_rules for port in portfolios):
        layout = replace(layout, rules=rule_arrays(layout, portfolios))
    return layout
