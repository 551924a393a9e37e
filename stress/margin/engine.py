"""The engine: price chunks in, per-path results of every book out.

Prices are consumed chunk by chunk and dropped; what is kept per path is small (loss, first
liquidation step, bad debt, which positions were liquidated, partial closes under a process that
has them), so the price array of the whole run is never held at once. The plain close (today's
rules) runs `stress.margin.kernels`; any other liquidation process or a market with a book runs
`stress.margin.process_kernels`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from stress.errors import ConfigError
from stress.margin.adl import AdlResults, AdlRules, adl_after_liquidation, kernel_adl
from stress.margin.aggregate import BookResults, books_from_buckets_nb, partials_to_books_nb
from stress.margin.kernels import BLOCK, BucketResults, Buckets, Market, Tiers, mark_buckets_nb
from stress.margin.layout import Layout
from stress.margin.path_results import PathResults
from stress.margin.process_kernels import PartialResults, mark_buckets_process_nb
from stress.margin.processes import DEFAULT_PROCESS, FULL_CLOSE, SLICES, TIER_STEP_DOWN, Process
from stress.margin.rules_kernel import mark_books_rules_nb
from stress.margin.rules_state import BookSpan
from stress.margin.slippage import Liquidity
from stress.paths.scenarios import adl_uniforms
from stress.threads import run_slices


@dataclass(frozen=True)
class MarketRules:
    """Exchange settings the kernels need, already turned into arrays.

    With the default process (a whole close, the residual to the trader) and no market's book
    (`liquidity` None) the run is `stress.margin.kernels`' plain close; any other setting runs
    `stress.margin.process_kernels`.
    """

    funding: np.ndarray  # (n_steps + 1,) float64: rate paid at each step (0 off the boundaries)
    liquidation_fee: float
    process: Process = DEFAULT_PROCESS
    liquidity: Liquidity | None = None  # per-asset books; None: every close fills at the mark
    adl: AdlRules | None = None  # a scenario's auto-deleveraging (`stress.margin.adl`)

    @property
    def plain(self) -> bool:
        """Whether the plain close of `stress.margin.kernels` is the whole story."""
        process = self.process
        return (
            process.kind == FULL_CLOSE
            and process.residual_to_trader
            and self.liquidity is None
            and self.adl is None
        )

    @property
    def partial(self) -> bool:
        """Whether the runs record partial closes: under the processes that close in parts
        (``tier_step_down``, ``slices``); ``full_close`` and ``fillable_price`` close whole."""
        return self.process.kind in (TIER_STEP_DOWN, SLICES)

    def kernel_liquidity(self, n_assets: int) -> Liquidity:
        """The books for the kernels: `liquidity`, or none at all (every close at the mark)."""
        if self.liquidity is not None:
            return self.liquidity
        zeros = np.zeros(n_assets)
        return Liquidity(np.zeros(n_assets, dtype=np.bool_), zeros, zeros, zeros, zeros + 1.0)


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


def _bucket_results(n_paths: int, n_buckets: int) -> BucketResults:
    shape = (n_paths, n_buckets)
    return BucketResults(
        liq_step=np.empty(shape, dtype=np.int32),
        value=np.empty(shape),
        bad_debt=np.empty(shape),
        fees_paid=np.empty(shape),
        trigger=np.empty(shape, dtype=np.int32),
    )


def _checked_prices(rules: MarketRules, prices: np.ndarray) -> np.ndarray:
    prices = np.ascontiguousarray(prices, dtype=np.float64)
    if prices.shape[1] != rules.funding.shape[0]:
        # the kernels index funding by step without bounds checks
        raise ValueError(
            f"prices have {prices.shape[1]} steps but the funding schedule {rules.funding.shape[0]}"
        )
    return prices


def mark_chunk(
    layout: Layout, rules: MarketRules, prices: np.ndarray, trace: bool = False, skip: bool = True
):
    """Run the kernel on one chunk.

    Returns a `BucketResults`; with `trace`, the pair (BucketResults, every bucket's value at
    every step, shape (n_paths, n_buckets, n_steps + 1)). `skip=False` marks every step (same
    results). Plain rules (`MarketRules.plain`) run `stress.margin.kernels`, others
    `mark_chunk_partial`, whose partial closes are dropped here.
    """
    if not rules.plain:
        out = mark_chunk_partial(layout, rules, prices, trace, skip)
        return (out[0], out[2]) if trace else out[0]
    prices = _checked_prices(rules, prices)
    out = _bucket_results(prices.shape[0], layout.n_buckets)
    values = np.empty((prices.shape[0], layout.n_buckets, prices.shape[1]) if trace else (0, 0, 0))
    _plain_kernel(layout, rules, prices, skip, out, values, _no_books(layout))
    return (out, values) if trace else out


def _plain_kernel(layout, rules, prices, skip, out, values, books) -> None:
    market = market_of(rules, prices.shape[1])
    buckets, tiers = buckets_of(layout), tiers_of(layout)
    args = (layout.twins, skip, out, values, books, layout.bucket_book, layout.book_free)
    mark_buckets_nb(prices, market, buckets, tiers, *args)


def _no_books(layout: Layout) -> BookResults:
    k, p = layout.n_books, layout.pos_qty.shape[0]
    return BookResults(
        np.empty((0, k)),
        np.empty((0, k), dtype=np.int32),
        np.empty((0, k)),
        np.empty((0, k)),
        np.empty((0, p), dtype=np.bool_),
        np.empty((0, p), dtype=np.bool_),
    )


def mark_plain_books(
    layout: Layout, rules: MarketRules, prices: np.ndarray, out: PathResults, rows: slice
) -> None:
    """The plain kernel summing each path's buckets into its books as it goes (no per-bucket
    arrays kept), into `out[rows]`: the same numbers as `books_from_buckets` of `mark_chunk`."""
    prices = _checked_prices(rules, prices)
    _plain_kernel(
        layout, rules, prices, True, _bucket_results(0, layout.n_buckets),
        np.empty((0, 0, 0)), _book_rows(out, rows),
    )  # fmt: skip


def mark_chunk_partial(
    layout: Layout, rules: MarketRules, prices: np.ndarray, trace: bool = False, skip: bool = True
):
    """Run the process kernel (`stress.margin.process_kernels`) on one chunk, whatever the rules.

    Returns (BucketResults, PartialResults), with `trace` (BucketResults, PartialResults, every
    bucket's value at every step). With ADL the chunk's paths are taken to be the run's first.
    """
    out, partial, _, values = mark_chunk_process(layout, rules, prices, trace, skip)
    return (out, partial, values) if trace else (out, partial)


def adl_of(layout: Layout, rules: MarketRules):
    """The kernels' view of the rules' ADL (`stress.margin.adl.Adl`) on the layout."""
    leverage = np.array([p.leverage for book in layout.books for p in book.positions])
    sizes = np.array([len(book.positions) for book in layout.books], dtype=np.int64)
    start = layout.book_first_position
    return kernel_adl(rules.adl, leverage, start, start + sizes)


def mark_chunk_process(
    layout: Layout,
    rules: MarketRules,
    prices: np.ndarray,
    trace: bool = False,
    skip: bool = True,
    first: int = 0,
):
    """The process kernel on a chunk whose first path is the run's path `first`: (BucketResults,
    PartialResults, AdlResults, every bucket's value at every step or an empty array)."""
    prices = _checked_prices(rules, prices)
    n_paths, n_times, n_assets = prices.shape
    n_pos = layout.pos_qty.shape[0]
    out = _bucket_results(n_paths, layout.n_buckets)
    partial = PartialResults(
        count=np.empty((n_paths, layout.n_buckets), dtype=np.int32),
        notional=np.empty((n_paths, layout.n_buckets)),
        pos_closed=np.empty((n_paths, n_pos), dtype=np.bool_),
    )
    adl_out = AdlResults(
        step=np.empty(n_paths, dtype=np.int32),
        closed=np.empty((n_paths, layout.n_buckets), dtype=np.int32),
    )
    if rules.adl is None:
        uniforms = np.empty((0, 0))
    else:
        uniforms = adl_uniforms(rules.adl.seed, first, n_paths, n_pos)
    values = np.empty((n_paths, layout.n_buckets, n_times) if trace else (0, 0, 0))
    mark_buckets_process_nb(
        prices,
        market_of(rules, n_times),
        buckets_of(layout),
        tiers_of(layout),
        rules.process,
        rules.kernel_liquidity(n_assets),
        skip,
        out,
        partial,
        values,
        adl_of(layout, rules),
        uniforms,
        adl_out,
    )
    return out, partial, adl_out, values


def book_equity_paths(layout: Layout, rules: MarketRules, prices: np.ndarray) -> np.ndarray:
    """Every book's equity at every step, shape (n_paths, n_books, n_steps + 1).

    Meant for a small sample of paths (fan charts): it holds every step of every bucket.
    """
    if layout.rules is not None:
        out = PathResults.empty(prices.shape[0], layout, rules.partial)
        trace = np.empty((prices.shape[0], layout.n_books, prices.shape[1]))
        mark_rules_chunk(layout, rules, _checked_prices(rules, prices), out, trace)
        return trace
    values = mark_chunk(layout, rules, prices, trace=True)[1]
    equity = np.add.reduceat(values, layout.book_first_bucket, axis=1)
    equity += layout.book_free[None, :, None]
    return equity


def _book_rows(out: PathResults, rows: slice) -> BookResults:
    return BookResults(
        final_equity=out.final_equity[rows],
        first_liq_step=out.first_liq_step[rows],
        bad_debt=out.bad_debt[rows],
        fees_paid=out.fees_paid[rows],
        pos_liquidated=out.pos_liquidated[rows],
        pos_triggered=out.pos_triggered[rows],
    )


def books_from_buckets(layout: Layout, buckets: BucketResults, out: PathResults, rows: slice):
    """Sum buckets into books (plus each book's free balance) and store them in `out[rows]`."""
    books = _book_rows(out, rows)

    def rows(i0: int, i1: int) -> None:
        books_from_buckets_nb(
            BucketResults(*(field[i0:i1] for field in buckets)),
            layout.bucket_book,
            layout.bucket_start,
            layout.bucket_end,
            layout.book_free,
            BookResults(*(field[i0:i1] for field in books)),
        )

    run_slices(rows, buckets.liq_step.shape[0], min_rows=16)


def mark_books(
    layout: Layout, rules: MarketRules, prices: np.ndarray, out: PathResults, first: int = 0
) -> None:
    """Mark a chunk of m paths, the run's paths from `first` on, and store every book's
    results in `out` (m rows)."""
    rows = slice(0, prices.shape[0])
    if layout.rules is not None:
        mark_books_ruled(layout, rules, prices, out)
        return
    if rules.plain:
        mark_plain_books(layout, rules, prices, out, rows)
        return
    buckets, partial, adl, _ = mark_chunk_process(layout, rules, prices, first=first)
    books_from_buckets(layout, buckets, out, rows)
    if out.adl_closed is not None:
        count, after = adl_after_liquidation(adl.step, buckets.liq_step, adl.closed, layout)
        out.adl_closed[rows], out.adl_liquidated[rows] = count, after
    out.pos_liquidated[rows] = partial.pos_closed  # a process may close only some positions
    if out.partial_closes is not None:
        partials_to_books_nb(
            partial.count,
            partial.notional,
            layout.bucket_book,
            out.partial_closes[rows],
            out.partial_notional[rows],
        )


_NO_CUTS = (np.empty((0, 0), dtype=np.int32), np.empty((0, 0)))


def mark_rules_chunk(
    layout: Layout, rules: MarketRules, prices: np.ndarray, out: PathResults, trace: np.ndarray
) -> None:
    """The rules kernel (`stress.margin.rules_kernel`) on a chunk, into `out` (and `trace`)."""
    books = BookResults(
        out.final_equity,
        out.first_liq_step,
        out.bad_debt,
        out.fees_paid,
        out.pos_liquidated,
        out.pos_triggered,
    )
    span = BookSpan(
        first_bucket=np.append(layout.book_first_bucket, layout.n_buckets).astype(np.int64),
        free=layout.book_free,
        pos_bucket=layout.pos_bucket,
    )
    mark_books_rules_nb(
        prices,
        market_of(rules, prices.shape[1]),
        buckets_of(layout),
        tiers_of(layout),
        rules.process,
        rules.kernel_liquidity(prices.shape[2]),
        layout.rules,
        span,
        books,
        out.rule_events,
        (out.partial_closes, out.partial_notional) if rules.partial else _NO_CUTS,
        trace,
    )


def mark_books_ruled(layout: Layout, rules: MarketRules, prices: np.ndarray, out: PathResults):
    """Books with the trader's rules: the rules kernel, and the same books without any rule on
    the same paths (`PathResults.unruled_equity`, `unruled_liq_step`)."""
    if rules.process.kind == SLICES or rules.adl is not None:
        # `stress.portfolios.rule_checks` refuses these configs; an API caller gets this
        raise ValueError("the trader's rules run without slices and without ADL")
    prices = _checked_prices(rules, prices)
    mark_rules_chunk(layout, rules, prices, out, np.empty((0, 0, 0)))
    bare = replace(layout, rules=None)
    plain = PathResults.empty(prices.shape[0], bare, rules.partial, rules.adl is not None)
    mark_books(bare, rules, prices, plain)
    out.unruled_equity[:] = plain.final_equity
    out.unruled_liq_step[:] = plain.first_liq_step


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


def mark_paths(layout: Layout, rules: MarketRules, first: int, prices: np.ndarray) -> PathResults:
    """Every book's per-path results on one chunk of prices, the run's paths from `first` on
    (what a worker returns when the paths are marked elsewhere: `stress.pipeline.distributed`)."""
    chunk = PathResults.empty(prices.shape[0], layout, rules.partial, rules.adl is not None)
    mark_books(layout, rules, prices, chunk, first)
    _refuse_non_finite(layout, chunk, first)
    return chunk


def collect(
    layout: Layout,
    rules: MarketRules,
    results: Iterable[tuple[int, PathResults]],
    n_paths: int,
    progress: Callable[[int], None] | None = None,
    keep_paths: int | None = None,
    on_chunk: Callable[[PathResults], None] | None = None,
) -> PathResults:
    """Gather chunks' per-path results, in path order, as `evaluate` does: the same calls in
    the same order, so where the chunks were marked cannot change a number."""
    keep = n_paths if keep_paths is None else min(n_paths, keep_paths)
    out = PathResults.empty(keep, layout, rules.partial, rules.adl is not None)
    done = 0
    for first, chunk in results:
        m = chunk.final_equity.shape[0]
        if on_chunk is not None:
            on_chunk(chunk)
        if first < keep:
            out.store(first, chunk, min(m, keep - first))
        done += m
        if progress is not None:
            progress(m)
    if done != n_paths:
        raise RuntimeError(f"engine saw {done} paths, expected {n_paths}")
    return out


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
    marked = ((first, mark_paths(layout, rules, first, prices)) for first, prices in chunks)
    return collect(layout, rules, marked, n_paths, progress, keep_paths, on_chunk)


def evaluate_prices(layout: Layout, rules: MarketRules, prices: np.ndarray) -> PathResults:
    """Mark every book on given price paths, shape (n_paths, n_steps + 1, n_assets)."""
    return evaluate(layout, rules, [(0, prices)], prices.shape[0])
