"""Plan -> `RunResult`: every book on the same paths, the base run and each scenario.

Each scenario is a whole run on the base run's seed and path blocks (common random numbers),
with its shocks laid over the paths, its funding and (for vol and correlation changes) its own
path model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from stress.analysis.detail import (
    FAN_QUANTILES,
    DetailBands,
    risk_score,
    select_detail,
    time_axis,
)
from stress.analysis.metrics import adl_metrics, book_metrics, partial_close_metrics
from stress.analysis.rule_metrics import rule_metrics
from stress.analysis.streaming import StreamStats, stream_book_metrics
from stress.analysis.verdict import Outcomes, portfolio_verdict
from stress.analysis.weighted_stats import weighted_stream_stats
from stress.analysis.worst_windows import add_worst_windows
from stress.config.schema import Scenario
from stress.margin.engine import PathResults, book_equity_paths, collect, evaluate
from stress.margin.funding import scenario_rules
from stress.margin.layout import Layout, build_layout
from stress.margin.liquidation_prices import portfolio_liquidation_prices
from stress.paths import BLOCK_PATHS, iter_price_chunks
from stress.paths.generate import chunk_prices
from stress.paths.scenarios import (
    changes_paths,
    describe,
    price_factor,
    scenario_spec,
    shocked_chunks,
)
from stress.pipeline import importance
from stress.pipeline.budget import FAN_PATHS, KEEP_BYTES
from stress.pipeline.distributed import ChunkJob, chunk_results
from stress.pipeline.fit_search import with_fits
from stress.pipeline.prepare import ConfigLike, Plan, prepare
from stress.pipeline.result import RunResult

Progress = Callable[[int], None] | None

EQUITY_CHUNK = 100
"""Sample paths marked at once for the equity fans (every step of every bucket is held)."""

LiquidationPrices = dict[str, dict[str, float | None]]
"""{position id: {"liquidation_price", "liquidation_price_below", "liquidation_price_above"}}"""


def keep_paths_for(
    layout: Layout,
    n_paths: int,
    budget_bytes: int = KEEP_BYTES,
    partial: bool = False,
    adl: bool = False,
) -> int:
    """How many paths' per-path results fit the budget (all of them when they fit); `partial`,
    `adl`: the results hold partial closes, ADL closes too; the trader's rules, when the
    layout has them, their events and the books' results without them."""
    per_book = (8 + 4 + 8 + 8) + ((4 + 8) if partial else 0) + ((4 + 1) if adl else 0)
    per_book += (7 * 4 + 8 + 8 + 4) if layout.rules is not None else 0
    per_path = layout.n_books * per_book + layout.pos_qty.shape[0] * 2
    if n_paths * per_path <= budget_bytes:
        return n_paths
    return max(BLOCK_PATHS, budget_bytes // per_path // BLOCK_PATHS * BLOCK_PATHS)


def liquidation_prices_of(plan: Plan) -> list[LiquidationPrices]:
    """Closed-form liquidation prices at today's marks, per book (the same in every scenario):
    the nearer to the mark of the two sides, and both sides."""
    memo: dict = {}  # a bucket met in several books is solved once
    return [
        portfolio_liquidation_prices(
            plan.portfolios[book.portfolio], book.mode, plan.marks, plan.tables, memo
        )
        for book in plan.layout.books
    ]


def _book_metrics(
    plan: Plan,
    results: PathResults,
    stats: StreamStats,
    kept: int,
    liquidation_prices: list[LiquidationPrices],
    weights: importance.Weights | None = None,
) -> list[dict[str, Any]]:
    layout, res = plan.layout, results
    exact = kept == plan.paths
    loss = res.loss(layout) if exact else None
    out = []
    for k, book in enumerate(layout.books):
        port = plan.portfolios[book.portfolio]
        if exact:
            m = book_metrics(
                loss=loss[:, k],
                first_liq_step=res.first_liq_step[:, k],
                bad_debt=res.bad_debt[:, k],
                fees_paid=res.fees_paid[:, k],
                final_equity=res.final_equity[:, k],
                initial_wallet=port.wallet,
                step_hours=plan.grid.step_hours,
                **_weight_args(weights, k),
            )
            if res.partial_closes is not None:
                pc, pn = res.partial_closes[:, k], res.partial_notional[:, k]
                m.update(partial_close_metrics(pc, pn, weights and weights.terminal))
            if res.adl_closed is not None:
                m.update(adl_metrics(res.adl_closed[:, k], res.adl_liquidated[:, k]))
        else:
            m = stream_book_metrics(stats, k, plan.grid.step_hours)
        if res.rule_events is not None:
            m["rules"] = rule_metrics(
                res.rule_events,
                k,
                float(layout.book_initial_equity[k]),
                res.final_equity[:, k],
                res.first_liq_step[:, k],
                res.unruled_equity[:, k],
                res.unruled_liq_step[:, k],
                plan.grid.step_hours,
            )
            m["rules"]["paths"] = kept
        first = layout.book_first_position[k]
        cols = slice(first, first + len(book.positions))
        probs = stats.pos_liq[cols] / stats.n
        prices = liquidation_prices[k]
        by_id = {p.id: (p, float(q)) for p, q in zip(book.positions, probs, strict=True)}
        m["positions"] = {
            p.id: {
                "asset": p.asset,
                "side": p.side,
                "p_liquidation": by_id[p.id][1],
                **prices[p.id],
            }
            for p in port.positions  # config order, whatever order the buckets used
        }
        out.append(m)
    return out


def run(
    cfg: ConfigLike,
    paths: int | None = None,
    seed: int | None = None,
    chunk_paths: int | None = None,
    progress: Progress = None,
    objective: str | None = None,
    client: Any = None,
) -> RunResult:
    """Simulate the config's portfolios under every configured mode on the same paths.

    Parameters
    ----------
    paths, seed : override the config's simulation.paths and seed
    chunk_paths : paths per chunk (a multiple of 256); results do not depend on it
    progress : called with the number of paths finished after each chunk
    objective : what the recommended mode minimises: "es_99", "p_liquidation" or
        "expected_loss"; None (the default): the portfolio's risk capital decides, and
        without one there is no single pick (see `stress.analysis.verdict`)
    client : a Dask client whose workers mark the paths (`stress.pipeline.distributed`:
        ``open_client(workers)``, or ``open_client(scheduler=address)``); the same results
    """
    return simulate(prepare(cfg, paths, seed, chunk_paths, objective), progress, client=client)


def simulate(
    plan: Plan, progress: Progress = None, fits: bool = True, client: Any = None
) -> RunResult:
    """The base run and every scenario of a prepared plan.

    `fits`: where no mode fits a portfolio's risk capital, search what would
    (`stress.pipeline.fit_search`); a caller that shows no verdict (the venue table) skips it.
    `client`: a Dask client whose workers mark the paths (`stress.pipeline.distributed`); the
    results are the same as without it.
    """
    if importance.active(plan):  # refused before any work, in one line
        rules = plan.rules
        kept = keep_paths_for(plan.layout, plan.paths, KEEP_BYTES, rules.partial, False)
        importance.check_run(plan, kept, client)
    liq_prices = liquidation_prices_of(plan)
    base = _simulate(plan, None, KEEP_BYTES, liq_prices, progress, client)
    if fits:  # a quick run on the same paths
        base = replace(base, verdicts=with_fits(plan, base, simulate))
    # the scenarios share the per-path memory budget so that it stays at most twice the base's
    budget = KEEP_BYTES // max(1, len(plan.config.scenarios))
    subs = []
    for sc in plan.config.scenarios:
        spec = scenario_spec(plan.spec, sc) if changes_paths(sc) else plan.spec
        # a scenario with its own path model gives the books its daily vol
        own = spec if changes_paths(sc) else None
        rules = scenario_rules(plan.config, sc, plan.rules, plan.grid, own, plan.seed)
        sc_plan = replace(plan, rules=rules, spec=spec)
        subs.append(_simulate(sc_plan, sc, budget, liq_prices, progress, client))
    return replace(base, scenarios=subs)


def _first_paths(plan: Plan, factor: np.ndarray | None) -> np.ndarray:
    """The first FAN_PATHS paths (for the figures), made here: what `_sampled` keeps of a local
    run, the same numbers."""
    prices = chunk_prices(plan.spec, plan.grid, plan.seed, 0, min(FAN_PATHS, plan.paths))
    if factor is not None:
        prices *= factor
    return prices


def _sampled(chunks, sample: list[np.ndarray]):
    """Pass the chunks on, keeping a copy of the first FAN_PATHS paths for the figures."""
    for first, prices in chunks:
        if first < FAN_PATHS:
            sample.append(prices[: FAN_PATHS - first].copy())
        yield first, prices


def _weight_args(weights: importance.Weights | None, k: int) -> dict[str, Any]:
    """`book_metrics`' weights for book k: none for plain Monte Carlo."""
    if weights is None:
        return {}
    return {
        "weights": weights.terminal,
        "liquidation_weights": weights.liquidation[:, k],
        "p_paths": weights.p_paths,
    }


def _arrays(weights: importance.Weights | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    return (None, None) if weights is None else (weights.terminal, weights.liquidation)


def detail_bands(plan: Plan, sample: np.ndarray, metrics: list[dict[str, Any]]) -> DetailBands:
    """The equity fans of the portfolios the report details, worked out once, in the run.

    Only the chosen portfolios are re-marked (a layout of just them), a few sample paths at a
    time, so a sweep of thousands of portfolios costs no more than three.

    Parameters
    ----------
    sample : (n_sample, n_steps + 1, n_assets) the sampled price paths
    metrics : one dict per book of `plan.layout`, from which the riskiest are chosen

    Returns
    -------
    DetailBands
        The chosen portfolios (`select_detail`), the time axis and each of their books' bands.
    """
    layout, grid, cfg = plan.layout, plan.grid, plan.config
    scores = [
        risk_score(port.wallet, [metrics[k] for k in layout.books_of(i)])
        for i, port in enumerate(plan.portfolios)
    ]
    chosen = select_detail(scores)
    axis = time_axis(grid.n_steps, grid.step_hours)
    tables = [plan.tables[a] for a in cfg.model.assets]
    sub = build_layout([plan.portfolios[i] for i in chosen], list(cfg.modes), tables, plan.marks)
    thinned = [
        book_equity_paths(sub, plan.rules, sample[start : start + EQUITY_CHUNK])[:, :, axis.steps]
        for start in range(0, sample.shape[0], EQUITY_CHUNK)
    ]
    bands = np.quantile(np.concatenate(thinned), FAN_QUANTILES, axis=0)  # (5, n_books, n_points)
    equity = {
        (chosen[book.portfolio], book.mode): bands[:, k, :] for k, book in enumerate(sub.books)
    }
    return DetailBands(portfolios=tuple(chosen), axis=axis, equity=equity)


def _local_run(plan: Plan, factor, progress: Progress, kept: int, update, sample: list):
    """Every book marked here on the plan's paths (bent by a scenario's `factor`)."""
    chunks = iter_price_chunks(plan.spec, plan.grid, plan.seed, plan.paths, plan.chunk_paths)
    chunks = _sampled(shocked_chunks(chunks, factor), sample)
    return evaluate(plan.layout, plan.rules, chunks, plan.paths, progress, kept, update)


def _weighted_run(plan: Plan, progress: Progress, kept: int, stats, update, sample: list):
    """Every book marked on paths of the shifted measure and weighted back
    (`stress.pipeline.importance`): (results, weighted statistics, Weights, summary block).
    The figures' sample paths are the real measure's. Without a shift (every weight exactly
    1: the paths are plain Monte Carlo's) the plain statistics `update` accumulated and the
    plain estimators are kept, so the numbers are plain Monte Carlo's to the bit; the
    summary's block says why."""
    results, weights, info = importance.run_weighted(plan, progress, kept, update)
    sample.append(_first_paths(plan, None))
    if weights is None:
        return results, stats, None, info
    w, w_liq = weights.terminal, weights.liquidation
    stats = weighted_stream_stats(plan.layout, results, w, plan.grid.n_steps, w_liq)
    return results, stats, weights, info


def _simulate(
    plan: Plan,
    scenario: Scenario | None,
    keep_budget: int,
    liquidation_prices: list[LiquidationPrices],
    progress: Progress,
    client: Any = None,
) -> RunResult:
    """One run of every book on the paths of the plan (bent by the scenario's shocks, if any),
    here or on a Dask `client`'s workers (`stress.pipeline.distributed`)."""
    layout, grid, n_paths = plan.layout, plan.grid, plan.paths
    t0 = time.perf_counter()
    sample: list[np.ndarray] = []
    factor = None if scenario is None else price_factor(plan.config, scenario, grid)
    partial, adl = plan.rules.partial, plan.rules.adl is not None
    stats = StreamStats.empty(layout, grid.n_steps, partial, adl)
    kept = keep_paths_for(layout, n_paths, keep_budget, partial, adl)
    update = lambda c: stats.update(layout, c)  # noqa: E731
    weights = info = None
    if importance.active(plan):
        results, stats, weights, info = _weighted_run(plan, progress, kept, stats, update, sample)
    elif client is None:
        results = _local_run(plan, factor, progress, kept, update, sample)
    else:  # the chunks are marked on the cluster, gathered here in path order
        job = ChunkJob(layout, plan.rules, plan.spec, grid, plan.seed, factor)
        marked = chunk_results(client, job, n_paths, plan.chunk_paths)
        results = collect(layout, plan.rules, marked, n_paths, progress, kept, update)
        sample.append(_first_paths(plan, factor))
    metrics = _book_metrics(plan, results, stats, kept, liquidation_prices, weights)
    if plan.spec.kind == "replay":  # the windows that hurt most, with their dates
        add_worst_windows(metrics, plan.spec.source, plan.spec.s0, results, layout)
    outcomes = Outcomes(layout, results, plan.portfolios, metrics, n_paths, *_arrays(weights))
    verdicts = [portfolio_verdict(outcomes, k, plan.objective) for k in range(len(plan.portfolios))]
    sample_prices = np.concatenate(sample)
    # the report details the base run only: a scenario's rows are in its tables
    detail = detail_bands(plan, sample_prices, metrics) if scenario is None else None
    return RunResult(
        config=plan.config,
        paths=n_paths,
        seed=plan.seed,
        grid=grid,
        portfolios=plan.portfolios,
        layout=layout,
        results=results,
        elapsed_seconds=time.perf_counter() - t0,
        rules=plan.rules,
        sample_prices=sample_prices,
        stats=stats,
        kept_paths=kept,
        metrics=metrics,
        verdicts=verdicts,
        scenario="base" if scenario is None else scenario.name,
        description="" if scenario is None else describe(plan.config, scenario),
        plan=plan,
        detail=detail,
        weights=_arrays(weights)[0],
        liquidation_weights=_arrays(weights)[1],
        importance=info,
    )
