"""`RunResult`: a finished run's per-path results, metrics and verdicts, and summary.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stress.analysis.detail import DetailBands
from stress.analysis.metrics import flat_metrics
from stress.analysis.streaming import StreamStats
from stress.config.schema import Config
from stress.margin.engine import MarketRules, PathResults, book_equity_paths
from stress.margin.layout import Layout
from stress.paths import TimeGrid
from stress.pipeline.per_path import per_path_frame
from stress.pipeline.prepare import Plan
from stress.portfolios.resolve import ResolvedPortfolio
from stress.version import __version__


@dataclass(frozen=True)
class RunResult:
    """A finished run: per-path results and the metrics built from them.

    Built whole by `stress.pipeline.simulate` and not changed after: its metrics, verdicts and
    scenario runs are all computed before it is made.
    """

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

    plan: Plan | None = None  # what the run was prepared from (the same for every scenario)
    # the equity fans of the portfolios the report details (base run only; None in a scenario)
    detail: DetailBands | None = None
    # importance sampling (`stress.pipeline.importance`): each path's likelihood ratio dP/dQ and
    # summary.json's "importance" block; None for plain Monte Carlo
    weights: np.ndarray | None = None
    liquidation_weights: np.ndarray | None = None  # stopped at each book's first liquidation
    importance: dict[str, Any] | None = None

    def books_of(self, k_port: int) -> list[int]:
        """Indices of the books (modes) of portfolio `k_port`."""
        return self.layout.books_of(k_port)

    def per_path(self) -> pd.DataFrame:
        """One row per (scenario, portfolio, mode, path) with the path's outcome.

        Columns and order: `stress.pipeline.per_path`. Holds the paths whose per-path results were
        kept
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
        """The summary.json structure (README, "Outputs"), with a "scenarios" list if configured."""
        cfg = self.config
        sweep = self.plan.sweep
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
            **self.plan.history_info(),
            **({"sweep": sweep.report.to_dict()} if sweep is not None else {}),
            "portfolios": self._ports(),
            **({"scenarios": scenarios} if scenarios else {}),
            **({"importance": self.importance} if self.importance is not None else {}),
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
