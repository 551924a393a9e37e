"""The engine: price chunks in, per-path results of every book out.

Prices are consumed chunk by chunk and dropped; what is kept per path is small (loss, first
liquidation step, bad debt, which positions were liquidated), so the price array of the whole
run is never held at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

import numpy as np

from stress.errors import ConfigError
from stress.margin.aggregate import BookResults, books_from_buckets_nb
from stress.margin.kernels import BLOCK, BucketResults, Buckets, Market, Tiers, mark_buckets_nb
from stress.margin.layout import Layout


@dataclass(frozen=True)
class MarketRules:
    """Exchange settings the kernels need, already turned into arrays."""

    funding: np.ndarray  # (n_steps + 1,) float64: rate paid at each step (0 off the boundaries)
    liquidation_fee: float


@dataclass
class PathResults:
    """Per-path outcome of every book (portfolio x mode); shapes (n_paths, K) or (n_paths, P)."""

    final_equity: np.ndarray  # float64
    first_liq_step: np.ndarray  # int32, -1 = never liquidated
    bad_debt: np.ndarray  # float64: deficits absorbed by the venue, summed over the buckets
    fees_paid: np.ndarray  # float64: liquidation fees paid, summed over the buckets
    pos_liquidated: np.ndarray  # bool, per position of the layout
    pos_triggered: np.ndarray  # bool: the position whose move set off its bucket's liquidation

    @classmethod
    def empty(cls, n_paths: int, layout: Layout) -> PathResults:
        k, p = layout.n_books, layout.pos_qty.shape[0]
        return cls(
            final_equity=np.empty((n_paths, k)),
            first_liq_step=np.empty((n_paths, k), dtype=np.int32),
            bad_debt=np.empty((n_paths, k)),
            fees_paid=np.empty((n_paths, k)),
            pos_liquidated=np.empty((n_paths, p), dtype=bool),
            pos_triggered=np.empty((n_paths, p), dtype=bool),
        )

    def loss(self, layout: Layout) -> np.ndarray:
        """Initial equity minus final equity, (n_paths, K); positive is a loss."""
        return layout.book_initial_equity[None, :] - self.final_equity


def market_of(rules: MarketRules, n_times: int) -> Market:
    """The kernels' view of the exchange rules, with the funding steps indexed per block."""
    steps = np.flatnonzero(rules.funding).astype(np.int64)
    block_starts = np.arange(0, n_times + BLOCK, BLOCK)[: -(-n_times // BLOCK) + 1]
    block_funding = np.searchsorted(steps, block_starts).astype(np.int64)
    return Market(
        funding=rules.funding,
        liquidation_fee=rules.liquidation_fee,
        funding_steps=steps,
        block_funding=block_funding,
    )


def buckets_of(layout: Layout) -> Buckets:
    """The kernels' view of the layout's positions and buckets."""
    return Buckets(
        pos_asset=layout.pos_asset,
        pos_qty=layout.pos_qty,
        pos_entry=layout.pos_entry,
        bucket_start=layout.bucket_start,
        bucket_end=layout.bucket_end,
        bucket_collateral=layout.bucket_collateral,
    )


def tiers_of(layout: Layout) -> Tiers:
    """The kernels' view of the layout's maintenance tiers."""
    return Tiers(
        cap=layout.tier_cap,
        mmr=layout.tier_mmr,
        amount=layout.tier_amount,
        count=layout.tier_count,
        convex=layout.tier_convex,
    )


def mark_chunk(
    layout: Layout, rules: MarketRules, prices: np.ndarray, trace: bool = False, skip: bool = True
):
    """Run the kernel on one chunk.

    Returns a `BucketResults`; with `trace`, the pair (BucketResults, every bucket's value at
    every step, shape (n_paths, n_buckets, n_steps + 1)). `skip=False` marks every step (same
    results).
    """
    prices = np.ascontiguousarray(prices, dtype=np.float64)
    if prices.shape[1] != rules.funding.shape[0]:
        # the kernels index funding by step without bounds checks
        raise ValueError(
            f"prices have {prices.shape[1]} steps but the funding schedule {rules.funding.shape[0]}"
        )
    n_paths = prices.shape[0]
    shape = (n_paths, layout.n_buckets)
    out = BucketResults(
        liq_step=np.empty(shape, dtype=np.int32),
        value=np.empty(shape),
        bad_debt=np.empty(shape),
        fees_paid=np.empty(shape),
        trigger=np.empty(shape, dtype=np.int32),
    )
    values = np.empty((*shape, prices.shape[1]) if trace else (0, 0, 0))
    market = market_of(rules, prices.shape[1])
    mark_buckets_nb(prices, market, buckets_of(layout), tiers_of(layout), skip, out, values)
    return (out, values) if trace else out


def book_equity_paths(layout: Layout, rules: MarketRules, prices: np.ndarray) -> np.ndarray:
    """Every book's equity at every step, shape (n_paths, n_books, n_steps + 1).

    Meant for a small sample of paths (fan charts): it holds every step of every bucket.
    """
    values = mark_chunk(layout, rules, prices, trace=True)[1]
    equity = np.add.reduceat(values, layout.book_first_bucket, axis=1)
    equity += layout.book_free[None, :, None]
    return equity


def books_from_buckets(layout: Layout, buckets: BucketResults, out: PathResults, rows: slice):
    """Sum buckets into books (plus each book's free balance) and store them in `out[rows]`."""
    books = BookResults(
        final_equity=out.final_equity[rows],
        first_liq_step=out.first_liq_step[rows],
        bad_debt=out.bad_debt[rows],
        fees_paid=out.fees_paid[rows],
        pos_liquidated=out.pos_liquidated[rows],
        pos_triggered=out.pos_triggered[rows],
    )
    books_from_buckets_nb(
        buckets, layout.bucket_book, layout.bucket_start, layout.bucket_end, layout.book_free, books
    )


def _refuse_non_finite(layout: Layout, chunk: PathResults, first: int) -> None:
    """Stop a run whose arithmetic overflowed rather than report NaN or infinite numbers.

    The config's bounds (`stress.config.limits`) keep every product finite; a model pushed to its
    extremes (volatility, jumps and horizon together) can still overflow a price.
    """
    bad = ~np.isfinite(chunk.final_equity)
    if bad.any():
        i, k = (int(x[0]) for x in np.nonzero(bad))
        book = layout.books[k]
        raise ConfigError(
            f"model: the simulation overflowed float64 (equity {chunk.final_equity[i, k]} on "
            f"path {first + i}, mode {book.mode}): the model's volatility, jumps or horizon are "
            "too extreme; lower them"
        )


def evaluate(
    layout: Layout,
    rules: MarketRules,
    chunks: Iterable[tuple[int, np.ndarray]],
    n_paths: int,
    progress: Callable[[int], None] | None = None,
    keep_paths: int | None = None,
    on_chunk: Callable[[PathResults], None] | None = None,
) -> PathResults:
    """Mark every book on every chunk of paths.

    Parameters
    ----------
    chunks : iterable of (first_path_index, prices (m, n_steps + 1, n_assets)), in path order
    progress : called with the number of paths done after each chunk
    keep_paths : keep the per-path results of only the first this many paths (default: all),
        so memory stays bounded; `on_chunk` sees every chunk's results before they are dropped
    on_chunk : called with each chunk's per-path results (e.g. to accumulate statistics)

    Returns
    -------
    PathResults of the first `keep_paths` paths.
    """
    keep = n_paths if keep_paths is None else min(n_paths, keep_paths)
    out = PathResults.empty(keep, layout)
    done = 0
    for first, prices in chunks:
        m = prices.shape[0]
        chunk = PathResults.empty(m, layout)
        books_from_buckets(layout, mark_chunk(layout, rules, prices), chunk, slice(0, m))
        _refuse_non_finite(layout, chunk, first)
        if on_chunk is not None:
            on_chunk(chunk)
        if first < keep:
            rows = min(m, keep - first)
            for f in fields(PathResults):
                getattr(out, f.name)[first : first + rows] = getattr(chunk, f.name)[:rows]
        done += m
        if progress is not None:
            progress(m)
    if done != n_paths:
        raise RuntimeError(f"engine saw {done} paths, expected {n_paths}")
    return out


def evaluate_prices(layout: Layout, rules: MarketRules, prices: np.ndarray) -> PathResults:
    """Mark every book on given price paths, shape (n_paths, n_steps + 1, n_assets)."""
    return evaluate(layout, rules, [(0, prices)], prices.shape[0])
