"""The public road: config -> paths -> engine -> metrics, as `stress.run` and friends."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stress.budget import FAN_PATHS, KEEP_BYTES, check_budget, config_estimate
from stress.config import HISTORY_MODELS, Config, Scenario, load_config
from stress.errors import ConfigError
from stress.historical import history_info, history_spec
from stress.limits import MAX_PATHS
from stress.liqprices import portfolio_liquidation_prices
from stress.margin.engine import MarketRules, PathResults, book_equity_paths, evaluate
from stress.margin.layout import Layout, build_layout, funding_counts
from stress.metrics import book_metrics, flat_metrics
from stress.paths import BLOCK_PATHS, ModelSpec, TimeGrid, iter_price_chunks, simulate_prices
from stress.per_path import per_path_frame
from stress.portfolio import ResolvedPortfolio, market_tables, resolve_portfolios
from stress.replay import add_worst_windows
from stress.scenarios import (
    changes_paths,
    describe,
    price_factor,
    scenario_rules,
    scenario_spec,
    shocked_chunks,
)
from stress.streaming import StreamStats, stream_book_metrics
from stress.verdict import OBJECTIVES, portfolio_verdict
from stress.version import __version__

ConfigLike = Config | dict | str


def model_spec(cfg: Config) -> ModelSpec:
    """The model block of a validated config as arrays."""
    m = cfg.model
    if m.type in HISTORY_MODELS:
        return history_spec(cfg)  # paths drawn (bootstrap) or cut (replay) from the history
    assets = list(m.assets.values())
    corr = np.eye(len(assets)) if m.correlation is None else np.asarray(m.correlation, float)
    jumps = m.jumps
    return ModelSpec(
        kind=m.type,
        s0=np.array([a.price for a in assets], dtype=float),
        vol=np.array([a.vol for a in assets], dtype=float),
        drift=np.array([a.drift for a in assets], dtype=float),
        corr=corr,
        jump_intensity=jumps.intensity if jumps else 0.0,
        jump_mean=jumps.mean if jumps else 0.0,
        jump_std=jumps.std if jumps else 0.0,
        jump_common=jumps.common if jumps else True,
        dof=m.dof or 0.0,
    )


def time_grid(cfg: Config) -> TimeGrid:
    return TimeGrid.from_days(cfg.simulation.horizon_days, cfg.simulation.steps_per_day)


def _integer(value: Any) -> bool:
    """Python and numpy integers (a count computed with numpy is an ``np.int64``); not bools,
    not floats, as in the config."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _overrides(cfg: Config, paths: int | None, seed: int | None) -> tuple[int, int]:
    """Command-line/API overrides, validated like the config fields they replace."""
    if paths is not None and (not _integer(paths) or not 1 <= paths <= MAX_PATHS):
        raise ConfigError(f"paths: expected an integer from 1 to {MAX_PATHS:,}, got {paths!r}")
    if seed is not None and (not _integer(seed) or seed < 0):
        raise ConfigError(f"seed: expected an integer >= 0, got {seed!r}")
    paths = None if paths is None else int(paths)
    seed = None if seed is None else int(seed)
    if paths is not None and cfg.model.type == "replay":
        raise ConfigError(
            f"paths: not used by model type replay (one path per history window, "
            f"{cfg.simulation.paths} here), got {paths}"
        )
    return (cfg.simulation.paths if paths is None else paths), (cfg.seed if seed is None else seed)


def generate_paths(
    cfg: ConfigLike, paths: int | None = None, seed: int | None = None
) -> np.ndarray:
    """Simulated mark prices, shape (paths, steps + 1, assets), step 0 = current marks."""
    cfg = load_config(cfg)
    n_paths, seed = _overrides(cfg, paths, seed)
    return simulate_prices(model_spec(cfg), time_grid(cfg), seed, n_paths)


def market_rules(cfg: Config, grid: TimeGrid) -> MarketRules:
    """Funding as a rate per step (the configured rate times the boundaries the step crosses)."""
    ex = cfg.exchange
    counts = funding_counts(grid.n_steps, cfg.simulation.steps_per_day, ex.funding.interval_hours)
    return MarketRules(
        funding=counts * float(ex.funding.rate),
        liquidation_fee=float(ex.liquidation_fee),
    )


def prepare(cfg: Config) -> tuple[list[ResolvedPortfolio], Layout, MarketRules, TimeGrid]:
    """Everything the engine needs from a validated config."""
    portfolios = resolve_portfolios(cfg)
    tables = market_tables(cfg)
    spec_s0 = np.array([a.price for a in cfg.model.assets.values()], dtype=float)
    layout = build_layout(
        portfolios, list(cfg.modes), [tables[a] for a in cfg.model.assets], spec_s0
    )
    grid = time_grid(cfg)
    return portfolios, layout, market_rules(cfg, grid), grid


@dataclass
class RunResult:
    """A finished run: per-path results and the metrics built from them."""

    config: Config
    paths: int
    seed: int
    grid: TimeGrid
    portfolios: list[ResolvedPortfolio]
    layout: Layout
    results: PathResults
    elapsed_seconds: float
    rules: MarketRules | None = None
    stats: StreamStats | None = None  # every path, accumulated
    kept_paths: int = 0  # `results` holds the first this many paths (all when they fit)
    sample_prices: np.ndarray | None = None  # the first FAN_PATHS paths, for figures
    metrics: list[dict[str, Any]] = field(default_factory=list)  # one per book
    verdicts: list[dict[str, Any]] = field(default_factory=list)  # one per portfolio
    scenario: str = "base"  # which run this is: "base" or a scenario's name
    description: str = ""  # what the scenario changes (empty for the base run)
    scenarios: list[RunResult] = field(default_factory=list)  # config order; base run only

    def books_of(self, k_port: int) -> list[int]:
        """Indices of the books (modes) of portfolio `k_port`."""
        if not hasattr(self, "_books_of"):
            groups: dict[int, list[int]] = {}
            for k, book in enumerate(self.layout.books):
                groups.setdefault(book.portfolio, []).append(k)
            self._books_of = groups
        return self._books_of[k_port]

    def per_path(self) -> pd.DataFrame:
        """One row per (scenario, portfolio, mode, path) with the path's outcome.

        Columns and order: `stress.per_path`. Holds the paths whose per-path results were kept
        (all of them unless the run was past its memory budget: then it warns and says how many
        in ``attrs["paths_kept"]``).
        """
        return per_path_frame(self)

    def sample_equity(self) -> np.ndarray:
        """Book equity along the sampled paths, shape (n_sample, n_books, n_steps + 1)."""
        return book_equity_paths(self.layout, self.rules, self.sample_prices)

    def _rows(self) -> list[dict[str, Any]]:
        return [
            {
                "portfolio": self.portfolios[book.portfolio].name,
                "mode": book.mode,
                **self.portfolios[book.portfolio].params,
                **flat_metrics(m),
                "scenario": self.scenario,
            }
            for book, m in zip(self.layout.books, self.metrics, strict=True)
        ]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per (scenario, portfolio, mode): a sweep's parameters, the scalar metrics and
        last the scenario ("base" for the base run's rows, which come first)."""
        rows = self._rows()
        for sc in self.scenarios:
            rows += sc._rows()
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The summary.json structure (SPEC section 3), with a "scenarios" list if configured."""
        cfg = self.config
        sweep = cfg.sweep_expansion()
        scenarios = [
            {"name": sc.scenario, "description": sc.description, "portfolios": sc._ports()}
            for sc in self.scenarios
        ]
        return {
            "name": cfg.name,
            "seed": self.seed,
            "paths": self.paths,
            "steps": self.grid.n_steps,
            "model": cfg.model.type,
            "horizon_days": cfg.simulation.horizon_days,
            "steps_per_day": cfg.simulation.steps_per_day,
            "assets": list(cfg.model.assets),
            **history_info(cfg),
            **({"sweep": sweep.report.to_dict()} if sweep is not None else {}),
            "portfolios": self._ports(),
            **({"scenarios": scenarios} if scenarios else {}),
            "run_info": {
                "version": __version__,
                "elapsed_seconds": self.elapsed_seconds,
                "per_path_results_kept": self.kept_paths,
            },
        }

    def _ports(self) -> list[dict[str, Any]]:
        """The "portfolios" list of summary.json for this run."""
        ports = []
        for k_port, port in enumerate(self.portfolios):
            modes = {self.layout.books[k].mode: self.metrics[k] for k in self.books_of(k_port)}
            ports.append(
                {
                    "name": port.name,
                    "wallet": port.wallet,
                    "params": port.params,
                    "modes": modes,
                    "verdict": self.verdicts[k_port],
                }
            )
        return ports


def keep_paths_for(layout: Layout, n_paths: int, budget_bytes: int = KEEP_BYTES) -> int:
    """How many paths' per-path results fit the budget (all of them when they fit)."""
    per_path = layout.n_books * (8 + 4 + 8 + 8) + layout.pos_qty.shape[0] * 2
    if n_paths * per_path <= budget_bytes:
        return n_paths
    return max(BLOCK_PATHS, budget_bytes // per_path // BLOCK_PATHS * BLOCK_PATHS)


LiquidationPrices = dict[str, dict[str, float | None]]
"""{position id: {"liquidation_price", "liquidation_price_below", "liquidation_price_above"}}"""


def _liquidation_prices(
    cfg: Config, portfolios: list[ResolvedPortfolio], layout: Layout
) -> list[LiquidationPrices]:
    """Closed-form liquidation prices at today's marks, per book (the same in every scenario):
    the nearer to the mark of the two sides, and both sides."""
    marks = np.array([a.price for a in cfg.model.assets.values()], dtype=float)
    tables = market_tables(cfg)
    return [
        portfolio_liquidation_prices(portfolios[book.portfolio], book.mode, marks, tables)
        for book in layout.books
    ]


def _book_metrics(
    result: RunResult, liquidation_prices: list[LiquidationPrices]
) -> list[dict[str, Any]]:
    layout, res, stats = result.layout, result.results, result.stats
    exact = result.kept_paths == result.paths
    loss = res.loss(layout) if exact else None
    out = []
    for k, book in enumerate(layout.books):
        port = result.portfolios[book.portfolio]
        if exact:
            m = book_metrics(
                loss=loss[:, k],
                first_liq_step=res.first_liq_step[:, k],
                bad_debt=res.bad_debt[:, k],
                fees_paid=res.fees_paid[:, k],
                final_equity=res.final_equity[:, k],
                initial_wallet=port.wallet,
                step_hours=result.grid.step_hours,
            )
        else:
            m = stream_book_metrics(stats, k, result.grid.step_hours)
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
    progress: Callable[[int], None] | None = None,
    objective: str = "es_99",
) -> RunResult:
    """Simulate the config's portfolios under every configured mode on the same paths.

    Parameters
    ----------
    paths, seed : override the config's simulation.paths and seed
    chunk_paths : paths per chunk (a multiple of 256); results do not depend on it
    progress : called with the number of paths finished after each chunk
    objective : what the recommended mode minimises: "es_99", "p_liquidation" or
        "expected_loss" (see `stress.verdict`)
    """
    cfg = load_config(cfg)
    n_paths, seed = _overrides(cfg, paths, seed)
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if chunk_paths is not None and (
        not _integer(chunk_paths) or chunk_paths < BLOCK_PATHS or chunk_paths % BLOCK_PATHS
    ):
        raise ConfigError(
            f"chunk_paths: expected a multiple of {BLOCK_PATHS} >= {BLOCK_PATHS}, "
            f"got {chunk_paths!r}"
        )
    if paths is not None or chunk_paths is not None:
        # the config's own paths and chunks were checked when it was loaded; these were not
        check_budget(config_estimate(cfg, n_paths, chunk_paths), "paths")
    chunk_paths = cfg.simulation.chunk_paths if chunk_paths is None else int(chunk_paths)
    prepared = prepare(cfg)
    spec = model_spec(cfg)
    liq_prices = _liquidation_prices(cfg, prepared[0], prepared[1])
    args = (liq_prices, n_paths, seed, chunk_paths, progress, objective)
    result = _simulate(cfg, prepared, spec, None, KEEP_BYTES, *args)
    # Each scenario is a whole run on the base run's seed and path blocks (common random
    # numbers); they share the per-path memory budget so that it stays at most twice the base's.
    budget = KEEP_BYTES // max(1, len(cfg.scenarios))
    portfolios, layout, rules, grid = prepared
    for sc in cfg.scenarios:
        sc_prepared = (portfolios, layout, scenario_rules(cfg, sc, rules, grid), grid)
        sc_spec = scenario_spec(spec, sc) if changes_paths(sc) else spec
        sub = _simulate(cfg, sc_prepared, sc_spec, sc, budget, *args)
        result.scenarios.append(sub)
    return result


def _simulate(
    cfg: Config,
    prepared: tuple[list[ResolvedPortfolio], Layout, MarketRules, TimeGrid],
    spec: ModelSpec,
    scenario: Scenario | None,
    keep_budget: int,
    liquidation_prices: list[LiquidationPrices],
    n_paths: int,
    seed: int,
    chunk_paths: int | None,
    progress: Callable[[int], None] | None,
    objective: str,
) -> RunResult:
    """One run of every book on the paths of `spec` (bent by the scenario's shocks, if any)."""
    portfolios, layout, rules, grid = prepared
    t0 = time.perf_counter()
    sample: list[np.ndarray] = []

    def keep_sample(chunks):
        for first, prices in chunks:
            if first < FAN_PATHS:
                sample.append(prices[: FAN_PATHS - first].copy())
            yield first, prices

    chunks = iter_price_chunks(spec, grid, seed, n_paths, chunk_paths)
    if scenario is not None:
        chunks = shocked_chunks(chunks, price_factor(cfg, scenario, grid))
    stats = StreamStats.empty(layout, grid.n_steps)
    kept = keep_paths_for(layout, n_paths, keep_budget)
    results = evaluate(
        layout,
        rules,
        keep_sample(chunks),
        n_paths,
        progress,
        kept,
        lambda c: stats.update(layout, c),
    )
    result = RunResult(
        config=cfg,
        paths=n_paths,
        seed=seed,
        grid=grid,
        portfolios=portfolios,
        layout=layout,
        results=results,
        elapsed_seconds=time.perf_counter() - t0,
        rules=rules,
        sample_prices=np.concatenate(sample),
        stats=stats,
        kept_paths=kept,
        scenario="base" if scenario is None else scenario.name,
        description="" if scenario is None else describe(cfg, scenario),
    )
    result.metrics = _book_metrics(result, liquidation_prices)
    result.verdicts = [
        portfolio_verdict(result, k, objective) for k in range(len(result.portfolios))
    ]
    if spec.kind == "replay":  # the windows that hurt most, with their dates
        add_worst_windows(result.metrics, spec.source, spec.s0, results, layout)
    return result
