"""Config -> plan: everything a run needs, built once and handed on.

`prepare` reads the history of a history model, checks what needs the whole book (markets, the
scenarios' assets, every portfolio's feasibility, a sweep's points), expands a sweep, resolves
the portfolios, builds the bucket layout and the market rules, and refuses a run that could not
fit this machine. ``stress validate`` stops here; `stress.pipeline.simulate` takes the `Plan`
and never rebuilds any of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stress.analysis.verdict import OBJECTIVES
from stress.config.limits import MAX_PATHS
from stress.config.load import load_config
from stress.config.schema import HISTORY_MODELS, Config
from stress.errors import ConfigError
from stress.history.garch_report import fit_summary
from stress.history.load import History, history_info, resolve_history
from stress.margin.engine import MarketRules
from stress.margin.funding import market_rules
from stress.margin.layout import Layout, build_layout
from stress.paths import BLOCK_PATHS, ModelSpec, TimeGrid
from stress.paths.history_spec import history_spec
from stress.paths.scenarios import check_scenario_assets
from stress.pipeline.budget import check_budget, estimate
from stress.portfolios.feasibility import check_books, check_markets
from stress.portfolios.resolve import (
    ResolvedPortfolio,
    listed_books,
    market_tables,
)
from stress.portfolios.rule_checks import check_hard_stops, check_rules
from stress.portfolios.sweep import SweepExpansion, expand
from stress.venues.presets import apply_preset
from stress.venues.tiers import TierTable

ConfigLike = Config | dict | str

API_NAMES = {"paths": "paths", "seed": "seed", "objective": "objective"}
"""How the overrides are named in messages: as `stress.run`'s arguments..."""
CLI_NAMES = {"paths": "--paths", "seed": "--seed", "objective": "--objective"}
"""... or as the command line's options."""


@dataclass(frozen=True)
class Plan:
    """A prepared run: the resolved config and everything built from it.

    Attributes
    ----------
    config : Config
        As loaded, with a history model's assets (and a replay's ``simulation.paths``, its
        number of windows) filled in from its files.
    history : History or None
        The aligned history of a history model.
    sweep : SweepExpansion or None
        A sweep's generated portfolios and its report.
    portfolios : list of ResolvedPortfolio
        Every portfolio, in config (or sweep) order.
    tables : dict of str to TierTable
        Each asset's tier table.
    layout, rules, grid, spec : the engine's inputs (books and buckets, funding and fees, the
        time grid, the path model).
    paths, seed, chunk_paths, objective : the run's settings, overrides applied.
    """

    config: Config
    history: History | None
    sweep: SweepExpansion | None
    portfolios: list[ResolvedPortfolio]
    tables: dict[str, TierTable]
    layout: Layout
    rules: MarketRules
    grid: TimeGrid
    spec: ModelSpec
    paths: int
    seed: int
    chunk_paths: int | None
    objective: str | None  # None: not asked for (the verdict's rules, `stress.analysis.verdict`)

    @property
    def marks(self) -> np.ndarray:
        """Today's mark of each asset, (n_assets,)."""
        return np.array([a.price for a in self.config.model.assets.values()], dtype=float)

    def history_info(self) -> dict[str, Any]:
        """``{"history": {...}}`` for summary.json (``{}`` for a parametric model); a
        conditional-volatility model's with its fit (`stress.history.garch_report.fit_summary`)."""
        info = history_info(self.config, self.history)
        fit = getattr(self.spec.source, "fit", None)
        if fit is not None:
            info["history"]["fit"] = fit_summary(fit)
        return info


def integer(value: Any) -> bool:
    """Python and numpy integers (a count computed with numpy is an ``np.int64``); not bools,
    not floats, as in the config."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_overrides(
    paths: Any = None,
    seed: Any = None,
    objective: Any = None,
    chunk_paths: Any = None,
    names: dict[str, str] = API_NAMES,
) -> None:
    """Command-line/API overrides, validated like the config fields they replace, before any
    work, and named as the caller gave them (`API_NAMES` or `CLI_NAMES`)."""
    if objective is not None and objective not in OBJECTIVES:
        raise ConfigError(
            f"{names['objective']}: expected one of {', '.join(OBJECTIVES)}, got {objective!r}"
        )
    if paths is not None and (not integer(paths) or not 1 <= paths <= MAX_PATHS):
        raise ConfigError(
            f"{names['paths']}: expected an integer from 1 to {MAX_PATHS:,}, got {paths!r}"
        )
    if seed is not None and (not integer(seed) or seed < 0):
        raise ConfigError(f"{names['seed']}: expected an integer >= 0, got {seed!r}")
    if chunk_paths is not None and (
        not integer(chunk_paths) or chunk_paths < BLOCK_PATHS or chunk_paths % BLOCK_PATHS
    ):
        raise ConfigError(
            f"chunk_paths: expected a multiple of {BLOCK_PATHS} >= {BLOCK_PATHS}, "
            f"got {chunk_paths!r}"
        )


def model_spec(cfg: Config, history: History | None = None) -> ModelSpec:
    """The model block of a resolved config as arrays (a history model's from its history)."""
    m = cfg.model
    if m.type in HISTORY_MODELS:
        return history_spec(cfg, history)  # paths drawn (bootstrap) or cut (replay)
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


def _books(cfg: Config) -> tuple[Config, History | None, SweepExpansion | None, list]:
    """The history read, the venue's preset applied, the whole-book rules checked and the
    portfolios resolved, in the order a reader checks a file: model, exchange, scenarios, then
    each portfolio."""
    cfg, history = resolve_history(cfg)
    cfg = apply_preset(cfg)  # the venue's data, under the fields the config writes
    check_markets(cfg)
    check_scenario_assets(cfg)
    if cfg.sweep is not None:
        sweep = expand(cfg)  # checks the base, the spec and every generated point
        check_rules(cfg)
        check_hard_stops(cfg, sweep.portfolios)
        return cfg, history, sweep, list(sweep.portfolios)
    portfolios = check_books(cfg, listed_books(cfg))
    check_rules(cfg)
    check_hard_stops(cfg, portfolios)
    return cfg, history, None, portfolios


def _refuse_replay_paths(cfg: Config, paths: int | None, names: dict[str, str]) -> None:
    if paths is not None and cfg.model.type == "replay":
        raise ConfigError(
            f"{names['paths']}: not used by model type replay (one path per history window, "
            f"{cfg.simulation.paths} here), got {paths}"
        )


def prepare(
    cfg: ConfigLike,
    paths: int | None = None,
    seed: int | None = None,
    chunk_paths: int | None = None,
    objective: str | None = None,
    names: dict[str, str] = API_NAMES,
    *,
    check_cost: bool = True,
) -> Plan:
    """Load (if needed) and prepare a config for a run; see the module docstring.

    ``check_cost=False`` skips the refusal of runs too large for this machine, for callers that
    do not simulate (closed-form liquidation prices).

    Raises
    ------
    ConfigError
        One line: a bad override, or the source, the field path and the problem.
    """
    check_overrides(paths, seed, objective, chunk_paths, names)
    cfg = load_config(cfg)
    try:
        cfg, history, sweep, portfolios = _books(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{cfg._source}: {exc}") from None
    _refuse_replay_paths(cfg, paths, names)
    n_paths = cfg.simulation.paths if paths is None else int(paths)
    chunk = cfg.simulation.chunk_paths if chunk_paths is None else int(chunk_paths)
    grid = time_grid(cfg)
    sizes = [len(p.positions) for p in portfolios]
    modes = len(cfg.modes)
    cost = estimate(
        grid, len(cfg.model.assets), len(sizes) * modes, sum(sizes) * modes, n_paths,
        len(cfg.scenarios), chunk,
    )  # fmt: skip
    try:
        if check_cost:
            check_budget(cost, "simulation.paths" if paths is None else names["paths"])
    except ConfigError as exc:
        prefix = f"{cfg._source}: " if paths is None and chunk_paths is None else ""
        raise ConfigError(f"{prefix}{exc}") from None
    tables = market_tables(cfg)
    marks = np.array([a.price for a in cfg.model.assets.values()], dtype=float)
    layout = build_layout(portfolios, list(cfg.modes), [tables[a] for a in cfg.model.assets], marks)
    spec = model_spec(cfg, history)  # a bootstrap's centred returns are computed once, here
    return Plan(
        config=cfg,
        history=history,
        sweep=sweep,
        portfolios=portfolios,
        tables=tables,
        layout=layout,
        rules=market_rules(cfg, grid, spec),
        grid=grid,
        spec=spec,
        paths=n_paths,
        seed=cfg.seed if seed is None else int(seed),
        chunk_paths=chunk,
        objective=objective,
    )
