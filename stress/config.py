"""The configuration schema: the only module that sees raw user input.

`load_config` reads YAML, TOML or a dict, validates it with pydantic (strict types, no unknown
keys, no NaN/inf) and then runs the cross-field checks of `stress.checks`. Every failure becomes
one `ConfigError` line: ``<source>: <field path>: <what was expected>, got <what was found>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from stress import limits as L
from stress.config_read import message, plain_data, read_file, short_repr, show_typed
from stress.errors import ConfigError

if TYPE_CHECKING:
    from stress.sweep import SweepExpansion

MODES = ("isolated", "cross", "as_configured")
Mode = Literal["isolated", "cross", "as_configured"]

MAX_PORTFOLIOS = 100_000
"""Most portfolios a sweep may generate (before infeasible points are dropped)."""

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
# Magnitudes a real account and market can have (stress.limits): beyond them float64 products
# of prices, sizes, rates and times overflow.
Amount = Annotated[float, Field(gt=0, le=L.MAX_AMOUNT)]
Price = Annotated[float, Field(ge=L.MIN_PRICE, le=L.MAX_PRICE)]
Leverage = Annotated[float, Field(gt=0, le=L.MAX_LEVERAGE)]
Hours = Annotated[float, Field(ge=0, le=L.MAX_HOURS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Simulation(_Strict):
    # required except for model type replay, whose paths are the history's windows (filled in
    # with their number when the config is loaded)
    paths: int | None = Field(default=None, ge=1, le=L.MAX_PATHS)
    horizon_days: float = Field(gt=0, le=L.MAX_HORIZON_DAYS)
    steps_per_day: int = Field(ge=1, le=L.MAX_STEPS_PER_DAY)
    chunk_paths: int | None = Field(default=None, ge=256, multiple_of=256)


class Asset(_Strict):
    price: Price
    # required by the parametric models, unused by history ones
    vol: float | None = Field(default=None, gt=0, le=L.MAX_VOL)
    drift: float = Field(default=0.0, ge=-L.MAX_DRIFT, le=L.MAX_DRIFT)


class Jumps(_Strict):
    intensity: float = Field(ge=0, le=L.MAX_JUMP_INTENSITY)
    mean: float = Field(ge=-L.MAX_JUMP_SIZE, le=L.MAX_JUMP_SIZE)
    std: float = Field(ge=0, le=L.MAX_JUMP_SIZE)
    common: bool = True


PARAMETRIC_MODELS = ("gbm", "merton", "student_t")
HISTORY_MODELS = ("bootstrap", "replay")
TimeBound = Any  # a date, datetime or text: YAML reads 2022-01-01 as a date, JSON as text


class Model(_Strict):
    type: Literal["gbm", "merton", "student_t", "bootstrap", "replay"]
    # parametric models need assets; history models name them after their files (and then
    # hold them here, filled in by `stress.historical.resolve_history`)
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

    # the history files as absolute paths, set when the config is loaded
    _history_files: tuple[Path, ...] | None = PrivateAttr(default=None)

    @field_validator("since", "until", mode="before")
    @classmethod
    def _time_bound(cls, value: Any) -> Any:
        # parsed (and put in order) by stress.historical with calibrate's rules
        if value is None or isinstance(value, date | str):
            return value
        raise ValueError(f"expected a date or time such as 2022-01-01, got {show_typed(value)}")


class Tier(_Strict):
    max_notional: float = Field(gt=0, le=L.MAX_TIER_CAP)
    max_leverage: Leverage
    mmr: float = Field(gt=0, lt=1)
    maintenance_amount: float | None = Field(default=None, ge=0, le=L.MAX_TIER_CAP)


class Market(_Strict):
    tiers: list[Tier] = Field(min_length=1)


class DefaultMarket(_Strict):
    mmr: float = Field(default=0.005, gt=0, lt=1)
    max_leverage: Leverage = 125.0


class Funding(_Strict):
    rate: float = Field(default=0.0, ge=-L.MAX_FUNDING_RATE, le=L.MAX_FUNDING_RATE)
    interval_hours: float = Field(default=8.0, ge=L.MIN_FUNDING_INTERVAL_HOURS, le=L.MAX_HOURS)


class Exchange(_Strict):
    liquidation_fee: float = Field(default=0.005, ge=0, lt=1)
    funding: Funding = Funding()
    markets: dict[str, Market] = {}
    default_market: DefaultMarket = DefaultMarket()


class Account(_Strict):
    wallet: Amount


class Position(_Strict):
    id: str | None = Field(default=None, min_length=1, max_length=L.MAX_NAME)
    asset: str
    side: Literal["long", "short"]
    notional: Amount | None = None
    quantity: float | None = Field(default=None, gt=0, le=L.MAX_QUANTITY)
    entry_price: Price | None = None
    leverage: Leverage
    margin_mode: Literal["isolated", "cross"] = "cross"
    margin: Amount | None = None


class Portfolio(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=L.MAX_NAME)
    account: Account
    positions: list[Position] = Field(min_length=1)


class SweepBase(_Strict):
    """The template every generated portfolio starts from."""

    account: Account
    positions: list[Position] = Field(min_length=1)


class SweepRandom(_Strict):
    n: int = Field(ge=1, le=MAX_PORTFOLIOS)
    seed: int = Field(default=0, ge=0)
    # parameter name -> distribution; both depend on the base's position ids, so
    # stress.sweep checks them (with field paths) rather than the schema
    params: dict[str, Any] = Field(min_length=1)


class Sweep(_Strict):
    """A generated portfolio set; the parameter syntax is checked by `stress.sweep`."""

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


class Shock(_Strict):
    """A price move laid over every path: ``move`` over ``over_hours`` from ``at_hour``."""

    asset: str
    # a fraction: -0.25 is a 25 % crash; a price cannot reach 0
    move: float = Field(gt=-1, le=L.MAX_SHOCK_MOVE)
    at_hour: Hours
    over_hours: Hours = 0.0  # 0: a gap, the mark at at_hour is the first one moved
    recover_hours: Hours | None = None  # None: no recovery, the move is permanent


class FundingSpike(_Strict):
    # per funding interval, like exchange.funding.rate
    rate: float = Field(ge=-L.MAX_FUNDING_RATE, le=L.MAX_FUNDING_RATE)
    from_hour: Hours
    hours: float = Field(gt=0, le=L.MAX_HOURS)


SCENARIO_EFFECTS = ("shock", "shocks", "vol_multiplier", "correlation_toward_one", "funding_spike")


class Scenario(_Strict):
    """One what-if run on the base paths (same seed, same random numbers); see stress.scenarios."""

    name: str = Field(pattern=NAME_PATTERN, max_length=L.MAX_NAME)
    description: str | None = None
    shock: Shock | None = None
    shocks: list[Shock] | None = Field(default=None, min_length=1)
    vol_multiplier: float | None = Field(default=None, gt=0, le=L.MAX_VOL_MULTIPLIER)
    correlation_toward_one: float | None = Field(default=None, ge=0, le=1)
    funding_spike: FundingSpike | None = None

    @model_validator(mode="after")
    def _some_effect(self) -> Scenario:
        if all(getattr(self, f) is None for f in SCENARIO_EFFECTS):
            raise ValueError(f"expected at least one of {', '.join(SCENARIO_EFFECTS)}, got none")
        return self

    def all_shocks(self) -> list[tuple[str, Shock]]:
        """Every shock with its field path suffix (``shock`` or ``shocks[i]``)."""
        out = [("shock", self.shock)] if self.shock is not None else []
        return out + [(f"shocks[{i}]", s) for i, s in enumerate(self.shocks or [])]


class Config(_Strict):
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

    # (inputs it was built from, expansion): a sweep is expanded once, when it is checked
    _sweep_cache: tuple | None = PrivateAttr(default=None)

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
        # fields only: the cached sweep expansion is derived from them, and a config that has
        # not been expanded yet is still the same config
        if not isinstance(other, Config):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # mutable-looking fields (dicts, lists): compared, never hashed

    def sweep_expansion(self) -> SweepExpansion | None:
        """The portfolios a `sweep:` generates and its report; None without a sweep.

        Computed on first use (config checking does it) and kept; a copy with other sweep,
        model, exchange or modes fields (`model_copy(update=...)`) is expanded afresh.

        Raises
        ------
        ConfigError
            A bad sweep spec, or no feasible point (messages without the source prefix).
        """
        if self.sweep is None:
            return None
        key = (id(self.sweep), id(self.model), id(self.exchange), tuple(self.modes))
        if self._sweep_cache is None or self._sweep_cache[0] != key:
            from stress.sweep import expand  # sweep needs this module's types

            self._sweep_cache = (key, expand(self))
        return self._sweep_cache[1]

    def book_list(self) -> list[tuple[str, Account, list[Position], str]]:
        """Every portfolio as (name, account, positions, field-path prefix).

        A sweep's generated portfolios come back as already-checked model objects (built
        without re-validation), their positions sized by quantity at their entry price.
        """
        expansion = self.sweep_expansion()
        if expansion is not None:
            return [
                (
                    port.name,
                    Account.model_construct(wallet=port.wallet),
                    [
                        Position.model_construct(
                            id=p.id,
                            asset=p.asset,
                            side=p.side,
                            quantity=p.quantity,
                            entry_price=p.entry_price,
                            leverage=p.leverage,
                            margin_mode=p.margin_mode,
                            margin=p.margin,
                        )
                        for p in port.positions
                    ],
                    "",
                )
                for port in expansion.portfolios
            ]
        if self.portfolios is None:
            return [(self.name, self.account, self.positions, "")]
        return [
            (p.name, p.account, p.positions, f"portfolios[{i}].")
            for i, p in enumerate(self.portfolios)
        ]


def parse_config(
    data: Any, source: str = "<config>", base_dir: Path | None = None, *, from_file: bool = False
) -> Config:
    """Validate a raw mapping against the schema and the cross-field rules.

    ``base_dir`` is the folder relative history paths (``model.history``) are read from:
    the config file's folder, or the working directory for a mapping. Data given in Python
    (``from_file`` false) is normalised first: tuples and numpy arrays become lists, numpy
    scalars Python numbers (`stress.config_read.plain_data`); file data is only checked against
    the same limits on nesting and number of values.
    """
    from stress.checks import check_config  # the semantic checks need the schema types
    from stress.historical import resolve_history  # reads the files of history models

    data = plain_data(data, source, convert=not from_file)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else show_typed(data)
        raise ConfigError(f"{source}: (top level): expected a mapping of settings, got {found}")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = message(errors[0], Config)
        more = f"; and {len(errors) - 1} more problem{'s' * (len(errors) > 2)}"
        raise ConfigError(f"{source}: {first}{more if len(errors) > 1 else ''}") from None
    try:
        cfg = resolve_history(cfg, Path.cwd() if base_dir is None else base_dir)
        check_config(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return cfg


def load_config(source: str | Path | dict | Config) -> Config:
    """Read and validate a config from a YAML/TOML path, a mapping or a `Config`.

    Raises
    ------
    ConfigError
        One line naming the source, the field path and the problem.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return parse_config(source)
    if not isinstance(source, str | PathLike):
        raise ConfigError(
            f"expected a config file path, a mapping or a Config, got {short_repr(source)}"
        )
    path = Path(source)
    return parse_config(read_file(path), str(path), path.resolve().parent, from_file=True)
