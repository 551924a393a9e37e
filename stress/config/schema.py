"""The configuration schema: pydantic models with declared domains (strict types, no unknown
keys, no NaN/inf). `stress.config.load` reads a file into them; `stress.config.checks` adds the
rules between fields that types cannot express.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from stress.config import limits as L
from stress.config.base import Amount, Hours, Leverage, Price, Strict
from stress.config.optimise import Optimise
from stress.config.read import show_typed
from stress.config.trader import HardStop, ReduceStep, StopLoss, TopUp

MODES = ("isolated", "cross", "as_configured")
Mode = Literal["isolated", "cross", "as_configured"]

MAX_PORTFOLIOS = 100_000
"""Most portfolios a sweep may generate (before infeasible points are dropped)."""

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


def horizon_steps(horizon_days: float, steps_per_day: int) -> int:
    """Steps of a horizon: the nearest whole number of steps, at least one."""
    return max(1, int(round(horizon_days * steps_per_day)))


class Simulation(Strict):
    # required except for model type replay, whose paths are the history's windows (filled in
    # with their number by `stress.pipeline.prepare`)
    paths: int | None = Field(default=None, ge=1, le=L.MAX_PATHS)
    horizon_days: float = Field(gt=0, le=L.MAX_HORIZON_DAYS)
    steps_per_day: int = Field(ge=1, le=L.MAX_STEPS_PER_DAY)
    chunk_paths: int | None = Field(default=None, ge=256, multiple_of=256)
    # rare events: a mean shift of the normals toward the nearest liquidation boundary, with
    # likelihood-ratio weights (`stress.paths.importance`); off: plain Monte Carlo
    importance: Literal["off", "auto"] = "off"

    @property
    def n_steps(self) -> int:
        return horizon_steps(self.horizon_days, self.steps_per_day)


class Asset(Strict):
    price: Price
    # required by the parametric models, unused by history ones
    vol: float | None = Field(default=None, gt=0, le=L.MAX_VOL)
    drift: float = Field(default=0.0, ge=-L.MAX_DRIFT, le=L.MAX_DRIFT)


class Jumps(Strict):
    intensity: float = Field(ge=0, le=L.MAX_JUMP_INTENSITY)
    mean: float = Field(ge=-L.MAX_JUMP_SIZE, le=L.MAX_JUMP_SIZE)
    std: float = Field(ge=0, le=L.MAX_JUMP_SIZE)
    common: bool = True


PARAMETRIC_MODELS = ("gbm", "merton", "student_t")
HISTORY_MODELS = ("bootstrap", "replay", "garch", "fhs", "ewma")
DRAWN_HISTORY_MODELS = ("bootstrap", "garch", "fhs", "ewma")
"""History models whose paths are drawn (any number of them); replay cuts its windows."""
VOLATILITY_MODELS = ("garch", "fhs", "ewma")
"""Conditional volatility fitted to the history at run time (`stress.history.fitting.garch`)."""
TimeBound = Any  # a date, datetime or text: YAML reads 2022-01-01 as a date, JSON as text


class Model(Strict):
    type: Literal["gbm", "merton", "student_t", "bootstrap", "replay", "garch", "fhs", "ewma"]
    # parametric models need assets; history models name them after their files (and then
    # hold them here, filled in by `stress.history.load.resolve_history`)
    assets: dict[Annotated[str, Field(min_length=1, max_length=L.MAX_NAME)], Asset] | None = Field(
        default=None, min_length=1
    )
    correlation: list[list[float]] | None = None
    jumps: Jumps | None = None
    dof: float | None = Field(default=None, gt=2, le=L.MAX_DOF)
    # bootstrap and replay: price files (relative to the config file's folder) and a window
    history: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)
    since: TimeBound | None = None
    until: TimeBound | None = None
    # bootstrap: mean block length (default 24)
    block_hours: float | None = Field(default=None, gt=0, le=L.MAX_HOURS)
    demean: bool | None = None  # bootstrap: remove the history's drift (default true)
    # replay: hours between window starts (default 24)
    stride_hours: float | None = Field(default=None, gt=0, le=L.MAX_HOURS)
    # replay: three marks a bar, its two extremes then its close (`stress.paths.replay`);
    # the files need high and low, and steps are a third of a bar
    wicks: bool | None = None
    # garch, fhs, ewma: a path starts from the variance forecast at the end of the history
    # (current, the default) or from the model's stationary law (stationary; not ewma)
    start: Literal["current", "stationary"] | None = None
    # ewma: RiskMetrics' decay factor of daily variances (default 0.94), or a half-life in hours
    decay: float | None = Field(default=None, gt=0, lt=1)
    half_life_hours: float | None = Field(default=None, gt=0, le=L.MAX_HOURS)

    # the history files as absolute paths, set when the config is loaded
    _history_files: tuple[Path, ...] | None = PrivateAttr(default=None)

    @field_validator("since", "until", mode="before")
    @classmethod
    def _time_bound(cls, value: Any) -> Any:
        # parsed (and put in order) by stress.history.load with calibrate's rules
        if value is None or isinstance(value, date | str):
            return value
        raise ValueError(f"expected a date or time such as 2022-01-01, got {show_typed(value)}")


class Tier(Strict):
    max_notional: float = Field(gt=0, le=L.MAX_TIER_CAP)
    max_leverage: Leverage
    mmr: float = Field(gt=0, lt=1)
    maintenance_amount: float | None = Field(default=None, ge=0, le=L.MAX_TIER_CAP)


class Liquidity(Strict):
    """The order book a liquidation close fills against (`stress.margin.slippage`): a close of
    notional N fills ``spread_bps / 2 + impact_k * sigma_daily * sqrt(N / depth_usd)`` away
    from the mark."""

    depth_usd: Amount
    spread_bps: float = Field(default=0.0, ge=0, le=L.MAX_SPREAD_BPS)
    impact_k: float = Field(default=1.0, ge=0, le=L.MAX_IMPACT_K)


class Market(Strict):
    tiers: list[Tier] = Field(min_length=1)
    liquidity: Liquidity | None = None  # None: closes fill at the mark


class DefaultMarket(Strict):
    mmr: float = Field(default=0.005, gt=0, lt=1)
    max_leverage: Leverage = 125.0
    liquidity: Liquidity | None = None


class Funding(Strict):
    rate: float = Field(default=0.0, ge=-L.MAX_FUNDING_RATE, le=L.MAX_FUNDING_RATE)
    interval_hours: float = Field(default=8.0, ge=L.MIN_FUNDING_INTERVAL_HOURS, le=L.MAX_HOURS)
    # the venue's cap on one interval's rate (a spike is clamped to it); None: no cap
    cap: float | None = Field(default=None, gt=0, le=L.MAX_FUNDING_RATE)


PROCESSES = ("full_close", "tier_step_down", "slices", "fillable_price")


class Liquidation(Strict):
    """How the venue closes a bucket that breaches its maintenance (`stress.margin.processes`).

    Each parameter belongs to one process (`stress.config.checks` refuses the others).
    """

    process: Literal["full_close", "tier_step_down", "slices", "fillable_price"] = "full_close"
    # full_close and fillable_price: what is left after the fee goes to the trader (Bybit, dYdX,
    # Hyperliquid's book closes) or to the venue's insurance fund (Binance, OKX)
    residual: Literal["trader", "venue"] = "trader"
    # tier_step_down: the lowest tiers, where a breach closes the whole position
    full_close_tiers: int = Field(default=1, ge=1, le=L.MAX_TIERS)
    # slices: positions above this notional are closed a fraction per slice, one slice per
    # cooldown (at least one step apart); below backstop x maintenance the venue takes the bucket
    slice_above_usd: float = Field(default=100_000.0, gt=0, le=L.MAX_AMOUNT)
    slice_fraction: float = Field(default=0.2, gt=0, le=1)
    cooldown_seconds: float = Field(default=30.0, ge=0, le=L.MAX_HOURS * 3600)
    backstop: float = Field(default=2.0 / 3.0, gt=0, lt=1)
    # fillable_price: the close fills at most this many maintenance margins from the mark
    fill_maintenance_multiple: float = Field(default=1.5, gt=0, le=L.MAX_FILL_MULTIPLE)


PRESETS = ("binance", "bybit", "okx", "hyperliquid", "dydx")


class Exchange(Strict):
    # a shipped venue (`stress.venues.presets`); the fields written here override it
    preset: Literal["binance", "bybit", "okx", "hyperliquid", "dydx"] | None = None
    liquidation_fee: float = Field(default=0.005, ge=0, lt=1)
    funding: Funding = Funding()
    markets: dict[str, Market] = {}
    default_market: DefaultMarket = DefaultMarket()
    liquidation: Liquidation = Liquidation()


class Account(Strict):
    wallet: Amount
    # what the trader can afford to lose: the verdict picks the arrangement with the lowest
    # liquidation probability whose ES99 stays within it (`stress.analysis.verdict`)
    risk_capital: Amount | None = None
    hard_stop: HardStop | None = None


class Position(Strict):
    id: str | None = Field(default=None, min_length=1, max_length=L.MAX_NAME)
    asset: str
    side: Literal["long", "short"]
    notional: Amount | None = None
    quantity: float | None = Field(default=None, gt=0, le=L.MAX_QUANTITY)
    entry_price: Price | None = None
    leverage: Leverage
    margin_mode: Literal["isolated", "cross"] = "cross"
    margin: Amount | None = None
    # the trader's own rules (`stress.margin.trader_rules`)
    stop_loss: StopLoss | None = None
    reduce: list[ReduceStep] | None = Field(default=None, min_length=1, max_length=L.MAX_RUNGS)
    top_up: TopUp | None = None


class Portfolio(Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=L.MAX_NAME)
    account: Account
    positions: list[Position] = Field(min_length=1)


class SweepBase(Strict):
    """The template every generated portfolio starts from."""

    account: Account
    positions: list[Position] = Field(min_length=1)


class SweepRandom(Strict):
    n: int = Field(ge=1, le=MAX_PORTFOLIOS)
    seed: int = Field(default=0, ge=0)
    # parameter name -> distribution; both depend on the base's position ids, so
    # stress.portfolios.sweep checks them (with field paths) rather than the schema
    params: dict[str, Any] = Field(min_length=1)


class Sweep(Strict):
    """A generated portfolio set; the parameter syntax is checked by `stress.portfolios.sweep`."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=L.MAX_NAME)
    base: SweepBase
    grid: dict[str, Any] | None = Field(default=None, min_length=1)
    random: SweepRandom | None = None

    @model_validator(mode="after")
    def _grid_or_random(self) -> Sweep:
        if (self.grid is None) == (self.random is None):
            found = "both" if self.grid is not None else "neither"
            raise ValueError(f"expected either grid or random, got {found}")
        return self


class Shock(Strict):
    """A price move laid over every path: ``move`` over ``over_hours`` from ``at_hour``."""

    asset: str
    # a fraction: -0.25 is a 25 % crash; a price cannot reach 0
    move: float = Field(gt=-1, le=L.MAX_SHOCK_MOVE)
    at_hour: Hours
    over_hours: Hours = 0.0  # 0: a gap, the mark at at_hour is the first one moved
    recover_hours: Hours | None = None  # None: no recovery, the move is permanent


class FundingSpike(Strict):
    # per funding interval, like exchange.funding.rate
    rate: float = Field(ge=-L.MAX_FUNDING_RATE, le=L.MAX_FUNDING_RATE)
    from_hour: Hours
    hours: float = Field(gt=0, le=L.MAX_HOURS)


class AdlTrigger(Strict):
    """The market-wide move that sets off auto-deleveraging: ``asset`` moves by ``move`` (a
    fraction, -0.10 for a 10 % fall) within ``within_hours``."""

    asset: str
    move: float = Field(gt=-1, le=L.MAX_SHOCK_MOVE)
    within_hours: float = Field(gt=0, le=L.MAX_HOURS)


class Adl(Strict):
    """Auto-deleveraging: when the trigger fires on a path, each position in profit at that
    moment is closed at the mark with ``probability`` (rising with its profit x leverage rank
    among the book's winners when ``by_rank``, the venues' ADL order)."""

    trigger: AdlTrigger
    probability: float = Field(ge=0, le=1)
    by_rank: bool = False


SCENARIO_EFFECTS = (
    "shock",
    "shocks",
    "vol_multiplier",
    "correlation_toward_one",
    "funding_spike",
    "liquidity_multiplier",
    "adl",
)


class Scenario(Strict):
    """One what-if run on the base paths (same seed, same random numbers).

    See `stress.paths.scenarios`.
    """

    name: str = Field(pattern=NAME_PATTERN, max_length=L.MAX_NAME)
    description: str | None = None
    shock: Shock | None = None
    shocks: list[Shock] | None = Field(default=None, min_length=1)
    vol_multiplier: float | None = Field(default=None, gt=0, le=L.MAX_VOL_MULTIPLIER)
    correlation_toward_one: float | None = Field(default=None, ge=0, le=1)
    funding_spike: FundingSpike | None = None
    # every market's depth times this (0.02: the book lost 98 % of its depth, as on 10 Oct 2025)
    liquidity_multiplier: float | None = Field(default=None, ge=L.MIN_LIQUIDITY_MULTIPLIER, le=1)
    adl: Adl | None = None

    @model_validator(mode="after")
    def _some_effect(self) -> Scenario:
        if all(getattr(self, f) is None for f in SCENARIO_EFFECTS):
            raise ValueError(f"expected at least one of {', '.join(SCENARIO_EFFECTS)}, got none")
        return self

    def all_shocks(self) -> list[tuple[str, Shock]]:
        """Every shock with its field path suffix (``shock`` or ``shocks[i]``)."""
        out = [("shock", self.shock)] if self.shock is not None else []
        return out + [(f"shocks[{i}]", s) for i, s in enumerate(self.shocks or [])]


class Config(Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=L.MAX_NAME)
    seed: int = Field(default=0, ge=0)
    simulation: Simulation
    model: Model
    exchange: Exchange = Exchange()
    account: Account | None = None
    positions: list[Position] | None = Field(default=None, min_length=1)
    portfolios: list[Portfolio] | None = Field(default=None, min_length=1)
    sweep: Sweep | None = None
    modes: list[Mode] = Field(default=list(MODES), min_length=1)
    scenarios: list[Scenario] = Field(default_factory=list)
    optimise: Optimise | None = None

    # where the file was read from: its name prefixes the messages of `stress.pipeline.prepare`,
    # and relative history files are found from its folder
    _source: str = PrivateAttr(default="<config>")
    _base_dir: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_book_layout(self) -> Config:
        single = self.account is not None or self.positions is not None
        if single and self.portfolios is not None:
            raise ValueError(
                "portfolios: expected either account + positions or a portfolios list, got both"
            )
        if self.sweep is not None and (single or self.portfolios is not None):
            other = "a portfolios list" if self.portfolios is not None else "account + positions"
            raise ValueError(f"sweep: expected either a sweep or {other}, got both")
        if not single and self.portfolios is None and self.sweep is None:
            raise ValueError(
                "positions: required field is missing (give account + positions, "
                "or a portfolios list, or a sweep)"
            )
        if self.account is None and self.positions is not None:
            raise ValueError("account: required field is missing (positions need an account)")
        if self.positions is None and self.account is not None:
            raise ValueError("positions: required field is missing (account is given)")
        return self

    def __eq__(self, other: object) -> bool:
        # the fields only: where a config was read from (`_source`, `_base_dir`) is not part of
        # what it says, so the same settings from YAML, TOML or a dict are the same config
        if not isinstance(other, Config):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # mutable-looking fields (dicts, lists): compared, never hashed
