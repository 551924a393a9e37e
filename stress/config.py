"""The configuration schema: the only module that sees raw user input.

`load_config` reads YAML, TOML or a dict, validates it with pydantic (strict types, no unknown
keys, no NaN/inf) and then runs the cross-field checks of `stress.checks`. Every failure becomes
one `ConfigError` line: ``<source>: <field path>: <what was expected>, got <what was found>``.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Simulation(_Strict):
    paths: int = Field(ge=1)
    horizon_days: PositiveFloat
    steps_per_day: int = Field(ge=1)
    chunk_paths: int | None = Field(default=None, ge=256, multiple_of=256)


class Asset(_Strict):
    price: PositiveFloat
    vol: PositiveFloat
    drift: float = 0.0


class Jumps(_Strict):
    intensity: NonNegFloat
    mean: float
    std: NonNegFloat
    common: bool = True


class Model(_Strict):
    type: Literal["gbm", "merton", "student_t"]
    assets: dict[Annotated[str, Field(min_length=1)], Asset] = Field(min_length=1)
    correlation: list[list[float]] | None = None
    jumps: Jumps | None = None
    dof: float | None = Field(default=None, gt=2)


class Tier(_Strict):
    max_notional: PositiveFloat
    max_leverage: PositiveFloat
    mmr: float = Field(gt=0, lt=1)
    maintenance_amount: NonNegFloat | None = None


class Market(_Strict):
    tiers: list[Tier] = Field(min_length=1)


class DefaultMarket(_Strict):
    mmr: float = Field(default=0.005, gt=0, lt=1)
    max_leverage: PositiveFloat = 125.0


class Funding(_Strict):
    rate: float = 0.0
    interval_hours: PositiveFloat = 8.0


class Exchange(_Strict):
    liquidation_fee: float = Field(default=0.005, ge=0, lt=1)
    funding: Funding = Funding()
    markets: dict[str, Market] = {}
    default_market: DefaultMarket = DefaultMarket()


class Account(_Strict):
    wallet: PositiveFloat


class Position(_Strict):
    id: str | None = Field(default=None, min_length=1)
    asset: str
    side: Literal["long", "short"]
    notional: PositiveFloat | None = None
    quantity: PositiveFloat | None = None
    entry_price: PositiveFloat | None = None
    leverage: PositiveFloat
    margin_mode: Literal["isolated", "cross"] = "cross"
    margin: PositiveFloat | None = None


class Portfolio(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
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

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    base: SweepBase
    grid: dict[str, Any] | None = Field(default=None, min_length=1)
    random: SweepRandom | None = None

    @model_validator(mode="after")
    def _grid_or_random(self) -> Sweep:
        if (self.grid is None) == (self.random is None):
            found = "both" if self.grid is not None else "neither"
            raise ValueError(f"expected either grid or random, got {found}")
        return self


class Config(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    seed: int = Field(default=0, ge=0)
    simulation: Simulation
    model: Model
    exchange: Exchange = Exchange()
    account: Account | None = None
    positions: list[Position] | None = Field(default=None, min_length=1)
    portfolios: list[Portfolio] | None = Field(default=None, min_length=1)
    sweep: Sweep | None = None
    modes: list[Mode] = Field(default=list(MODES), min_length=1)

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


# ---------------------------------------------------------------------------------------------
# Reading and error formatting


def _load_yaml(text: str, source: str) -> Any:
    """Parse YAML, refusing duplicate keys (PyYAML silently keeps the last one)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(loader, node, (), source, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_duplicate_keys(
    loader: yaml.SafeLoader, node: yaml.Node, loc: tuple, source: str, seen_nodes: set
) -> None:
    if id(node) in seen_nodes:  # an alias: checked where its anchor was
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(loader, item, (*loc, i), source, seen_nodes)
    elif isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = None
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            if isinstance(key_node, yaml.ScalarNode):
                key = loader.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    where = (
                        f"twice on line {line}"
                        if line == first_line[key]
                        else f"on lines {first_line[key]} and {line}"
                    )
                    raise ConfigError(
                        f"{source}: {field_path((*loc, str(key)))}: duplicate key: "
                        f"expected each key once, got it {where}"
                    )
                first_line[key] = line
            sub = loc if key is None else (*loc, str(key))
            _refuse_duplicate_keys(loader, value_node, sub, source, seen_nodes)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return _load_yaml(text, str(path))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        if context and problem.startswith("but "):  # "expected a single document ... but found"
            problem = f"{context} {problem}"
        raise ConfigError(f"{path}: invalid YAML{at}: {problem}") from None


def field_path(loc: tuple) -> str:
    """('positions', 1, 'leverage') -> 'positions[1].leverage'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _show(value: Any) -> str:
    """A found value as the user wrote it (YAML spellings for null and booleans)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a decimal number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


def _show_typed(value: Any) -> str:
    """A found value with its type, for errors about the type."""
    name = _TYPE_NAMES.get(type(value))
    return _show(value) if name is None else f"{_show(value)} ({name})"


def _bound(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _allowed_keys(model_cls: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the schema allows at `loc`'s parent, for 'unknown key' messages."""
    node: Any = model_cls
    for part in loc[:-1]:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            node = field.annotation
        elif get_origin(node) in (list, dict):
            node = get_args(node)[-1]  # a list item, or a mapping's value under a user key
        else:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return sorted(node.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` -> X."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


# What pydantic's type errors expect, in the words of a YAML file
_EXPECTED = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value pairs)",
    "model_type": "a mapping (key: value pairs)",
    "finite_number": "a finite number",
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _expected(kind: str, msg: str, ctx: dict, value: Any) -> str:
    """'expected ...' for one pydantic error: what was expected, before ', got <found>'."""
    if kind in _EXPECTED:
        text = f"expected {_EXPECTED[kind]}"
        if kind in ("float_type", "int_type") and isinstance(value, str) and _numeric(value):
            low = value.strip().lower()
            if "e" in low and "." not in low:  # YAML 1.1 reads 6e4 as text, 6.0e+4 as a number
                return text + " (YAML reads an exponent without a '.' as text: write 6.0e+4)"
            text += " (write numbers without quotes)"
        return text
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"expected a number {_BOUNDS[kind]} {_bound(bound)}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"expected at least {n} item{'s' * (n != 1)}"
    if kind == "string_too_short":
        return "expected a non-empty string"
    if kind == "multiple_of":
        return f"expected a multiple of {ctx.get('multiple_of')}"
    if kind == "string_pattern_mismatch":
        return f"expected only letters, digits, '_', '.' and '-' (pattern {ctx.get('pattern')})"
    msg = msg.replace("Input should be", "expected").replace("input should be", "expected")
    return msg if msg.startswith("expected") else f"expected: {msg}"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _found(kind: str, value: Any) -> str:
    return _show_typed(value) if kind in _EXPECTED and kind != "finite_number" else _show(value)


def _message(err: dict, model_cls: type[BaseModel]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # pydantic adds the union member or a literal's type name to the location; drop those
    loc = tuple(p for p in loc if p not in ("list[float]", "float", "int", "str", "bool"))
    kind = err["type"]
    value = err.get("input")
    if loc and loc[-1] == "[key]":  # a bad mapping key, e.g. an asset named 1
        where = field_path(loc[:-2])
        expected = _expected(kind, err["msg"], err.get("ctx", {}), value)
        return f"{where}: bad key: {expected}, got {_found(kind, value)}"
    where = field_path(loc)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model_cls, loc)
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"{where}: unknown key{hint}"
    if kind == "missing":
        return f"{where}: required field is missing"
    if kind == "value_error":
        msg = err["msg"].removeprefix("Value error, ")
        # model-level rules name their own field path
        return msg if not loc and ": " in msg else f"{where}: {msg}"
    expected = _expected(kind, err["msg"], err.get("ctx", {}), value)
    return f"{where}: {expected}, got {_found(kind, value)}"


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate a raw mapping against the schema and the cross-field rules."""
    from stress.checks import check_config  # the semantic checks need the schema types

    if not isinstance(data, dict):
        found = "an empty file" if data is None else _show_typed(data)
        raise ConfigError(f"{source}: (top level): expected a mapping of settings, got {found}")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = _message(errors[0], Config)
        more = f"; and {len(errors) - 1} more problem{'s' * (len(errors) > 2)}"
        raise ConfigError(f"{source}: {first}{more if len(errors) > 1 else ''}") from None
    try:
        check_config(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return cfg


def load_config(source: str | Path | dict | Config) -> Config:
    """Read and validate a config from a YAML/TOML path or a mapping.

    Raises
    ------
    ConfigError
        One line naming the source, the field path and the problem.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, dict):
        return parse_config(source)
    path = Path(source)
    return parse_config(_read(path), str(path))
